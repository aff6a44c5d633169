"""Local HTTP servers for tests: a free port, and a WSGI app served in a daemon thread."""

from __future__ import annotations

import socket
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server


def free_port() -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """A threaded WSGI server on ``host`` (127.0.0.1) in a daemon thread; ``url`` is its base
    address. ``port=0`` takes a free port; with ``ssl_context`` it serves HTTPS (``url`` still
    says ``http``: tests that use it build their own ``https`` address)."""

    def __init__(
        self, wsgi_app: Any, port: int = 0, host: str = "127.0.0.1", ssl_context: Any = None
    ) -> None:
        self.server: BaseWSGIServer = make_server(
            host, port, wsgi_app, threaded=True, ssl_context=ssl_context
        )
        self.port = self.server.server_port
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        """Shut the server down and wait (5 s at most) for its thread."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
