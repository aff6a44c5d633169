"""A TCP proxy on 127.0.0.1 that can delay or cut what passes through it.

Put it between the service and a peer (Stripe's sandbox, the database) to play a slow or
failing network in a test::

    with TcpProxy("127.0.0.1", sandbox_port) as proxy:
        proxy.delay = 2.0       # each chunk towards the client waits 2 s
        proxy.cut()             # drop open connections and refuse new ones
        proxy.restore()         # accept again

Only loopback addresses are accepted as targets: test traffic never leaves this machine.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import threading
import time
from types import TracebackType


class TcpProxy:
    """Forward connections from ``127.0.0.1:<port>`` to ``target_host:target_port``.

    ``delay`` (seconds) is slept before each chunk is passed back to the client, so a reply of
    several chunks is slowed proportionally. :meth:`cut` closes every open connection and makes
    new ones close at once; :meth:`restore` undoes it. ``port`` is chosen by the OS.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        if not ipaddress.ip_address(target_host).is_loopback:
            raise ValueError("TcpProxy only forwards to loopback addresses")
        self.target = (target_host, target_port)
        self.delay = 0.0
        self._cut = False
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stopping = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def cut(self) -> None:
        """Close every connection through the proxy and refuse new ones until :meth:`restore`."""
        self._cut = True
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            _close(conn)

    def restore(self) -> None:
        """Accept and forward connections again."""
        self._cut = False

    def stop(self) -> None:
        """Stop listening and close every connection."""
        self._stopping = True
        self.cut()
        _close(self._listener)
        self._thread.join(2)

    def _accept_loop(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._conns.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while not self._cut:
                readable, _, _ = select.select(list(peers), [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is upstream and self.delay:
                        time.sleep(self.delay)
                    if self._cut:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.difference_update((client, upstream))
            _close(client)
            _close(upstream)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
