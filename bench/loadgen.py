"""wrk as the load generator: one bounded run, its figures parsed from ``bench/lua/bench.lua``."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).parent / "lua" / "bench.lua"


@dataclass
class WrkResult:
    """One wrk run: completed responses, duration (s), latency percentiles (ms), errors
    (connect/read/write/timeout failures plus responses that were not 2xx or 3xx)."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def per_second(self) -> float:
        """Completed responses per second (including non-2xx/3xx ones, which ``errors`` counts)."""
        return self.requests / self.seconds


def wrk(url: str, connections: int, seconds: int, *mode_args: str, threads: int = 2) -> WrkResult:
    """Run wrk against ``url`` for ``seconds`` with ``connections`` open connections; the mode
    arguments go to the Lua script (``create PATH KEY BODY``, ``pay FILE``, ``webhook FILE N``).
    Raises ``RuntimeError`` if wrk fails or prints no figures."""
    argv = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(LUA), url, "--", *mode_args,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCHJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}")
    figures = json.loads(line.split(" ", 1)[1])
    errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    return WrkResult(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=errors,
    )
