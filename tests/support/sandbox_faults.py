"""Faults in the suite's shared Stripe sandbox for the length of a ``with`` block.

The session's one sandbox serves every test, so a test that makes it misbehave must leave it
healthy: :func:`sandbox_faults` puts faults in force through ``POST /_sandbox/faults`` and
clears them all (``DELETE /_sandbox/faults``) on the way out, whatever happens inside::

    with sandbox_faults(sandbox.url, {"latency": 2.0}) as faults:
        ...
        fired = faults.fired()   # [(spec, times fired), ...] while they are in force

The fault format is the sandbox's own (``sandbox/faults.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests


@dataclass
class FaultsInForce:
    """Handle on the faults a :func:`sandbox_faults` block put in force."""

    url: str

    def fired(self) -> list[tuple[dict[str, Any], int]]:
        """Each fault in force (as given) with how often it has fired so far."""
        response = requests.get(f"{self.url}/_sandbox/faults", timeout=10)
        response.raise_for_status()
        return [
            ({k: v for k, v in fault.items() if k != "fired"}, fault["fired"])
            for fault in response.json()["faults"]
        ]

    def clear(self) -> None:
        """Remove every fault (the block's exit does it too)."""
        requests.delete(f"{self.url}/_sandbox/faults", timeout=10).raise_for_status()


@contextmanager
def sandbox_faults(sandbox_url: str, *specs: dict[str, Any]) -> Iterator[FaultsInForce]:
    """Put ``specs`` in force in the sandbox at ``sandbox_url`` for the block, then clear all
    faults. Raises ``requests.HTTPError`` if the sandbox refuses a spec (400 names the field)."""
    handle = FaultsInForce(sandbox_url)
    try:
        for spec in specs:
            requests.post(f"{sandbox_url}/_sandbox/faults", json=spec, timeout=10).raise_for_status()
        yield handle
    finally:
        handle.clear()
