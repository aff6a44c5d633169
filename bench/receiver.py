"""A merchant's webhook endpoint for the benchmark: answers 200 at once and counts messages.

``GET /_bench/stats`` → ``{"received", "distinct", "first", "last"}``: every POST, the distinct
``webhook-id`` headers among them (Standard Webhooks: the same id on every retry), so the run
can check each message arrived exactly once, and the unix times of the first and last POST.
``POST /_bench/reset`` starts counting afresh.

Run: ``python -m bench.receiver --port 12198``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from bench import tinyhttp

SEEN: set[str] = set()
STATS: dict[str, float] = {"received": 0, "first": 0.0, "last": 0.0}


async def handle(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    """Count a POSTed message; report the counts on ``GET /_bench/stats``."""
    if path == "/_bench/stats":
        return 200, {**STATS, "distinct": len(SEEN)}
    if path == "/_bench/reset":
        SEEN.clear()
        STATS.update(received=0, first=0.0, last=0.0)
        return 200, {}
    now = time.time()
    STATS["received"] += 1
    STATS["first"] = STATS["first"] or now
    STATS["last"] = now
    SEEN.add(headers.get("webhook-id", ""))
    return 200, {"ok": True}


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(tinyhttp.serve(parser.parse_args().port, handle))


if __name__ == "__main__":
    main()
