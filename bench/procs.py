"""Processes the benchmark starts, and what ``/proc`` says about them (CPU time, resident memory).

Every process is started in its own session (process group) and registered in a
:class:`Processes`; leaving its ``with`` block — normally, on an exception, or on SIGINT/SIGTERM
(turned into :class:`SystemExit`) — terminates each group it started (SIGTERM, then SIGKILL
after a grace period), and nothing else.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stat_fields(pid: int) -> list[str]:
    # Fields after the command name, which may itself contain spaces and parentheses.
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) so far, in seconds."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (stat fields 14, 15)


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (e.g. gunicorn's workers), by scanning ``/proc``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat_fields(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    return sorted(found)


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` in MiB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``; raise ``RuntimeError``
    if ``process`` exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def _raise_exit(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


class Processes:
    """The processes of one benchmark run; a context manager that stops them all on exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[subprocess.Popen[Any]] = []
        self._logs: list[IO[bytes]] = []

    def __enter__(self) -> Processes:
        signal.signal(signal.SIGTERM, _raise_exit)
        signal.signal(signal.SIGINT, _raise_exit)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for process in list(self.started):
            self.stop(process)
        for log in self._logs:
            log.close()

    def start(
        self, name: str, argv: list[str], env: dict[str, str], port: int | None = None
    ) -> subprocess.Popen[Any]:
        """Start ``argv`` (output to ``<log_dir>/<name>.log``) and, given ``port``, wait until it
        listens there."""
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in __exit__
        self._logs.append(log)
        process = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.started.append(process)
        if port is not None:
            wait_for_port(port, process)
        return process

    def stop(self, process: subprocess.Popen[Any], grace: float = 10.0) -> None:
        """SIGTERM ``process``'s group, SIGKILL it after ``grace`` seconds."""
        if process in self.started:
            self.started.remove(process)
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            except ProcessLookupError:
                pass
        try:  # whatever is left in the group (e.g. a worker whose master was killed)
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
