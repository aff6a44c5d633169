"""The settings the notification code runs on, read from the application's config at the edge.

Views, the CLI and the worker's start build a :class:`NotificationSettings` with
:func:`current_settings` (or :meth:`NotificationSettings.from_config`) and pass it in; the
notification functions themselves never read ``current_app.config``, so those that need no
database run without an application context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app

from .broker import EXCHANGE, TIMEOUT
from .delivery import ATTEMPT_DEADLINE

#: Deliveries one worker makes at once; the default of the ``WORKER_CONCURRENCY`` setting.
CONCURRENCY = 4


@dataclass(frozen=True)
class NotificationSettings:
    """What the settings of the same names (see the README's "Settings") say.

    ``signing_key``: ``SECRET_KEY`` as bytes, from which endpoint signing secrets are derived.
    ``allow_private_urls``: ``WEBHOOK_ALLOW_PRIVATE_URLS``. ``retry_schedule``:
    ``WEBHOOK_RETRY_SCHEDULE``, seconds before retry 1, 2, …. ``attempt_deadline``:
    ``WEBHOOK_ATTEMPT_DEADLINE``, seconds one attempt may take in all. ``concurrency``:
    ``WORKER_CONCURRENCY``. ``broker_url`` / ``broker_exchange`` / ``broker_timeout`` (seconds):
    ``EVENT_BROKER_URL`` (None: nothing is published), ``EVENT_BROKER_EXCHANGE``,
    ``EVENT_BROKER_TIMEOUT``.
    """

    signing_key: bytes
    allow_private_urls: bool = False
    retry_schedule: tuple[int, ...] = ()
    attempt_deadline: float = ATTEMPT_DEADLINE
    concurrency: int = CONCURRENCY
    broker_url: str | None = None
    broker_exchange: str = EXCHANGE
    broker_timeout: float = TIMEOUT

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NotificationSettings:
        """The settings from a Flask config (or any mapping of setting names to values)."""
        key = config["SECRET_KEY"]
        return cls(
            signing_key=key.encode() if isinstance(key, str) else bytes(key),
            allow_private_urls=bool(config.get("WEBHOOK_ALLOW_PRIVATE_URLS")),
            retry_schedule=tuple(config.get("WEBHOOK_RETRY_SCHEDULE") or ()),
            attempt_deadline=float(config.get("WEBHOOK_ATTEMPT_DEADLINE", ATTEMPT_DEADLINE)),
            concurrency=int(config.get("WORKER_CONCURRENCY", CONCURRENCY)),
            broker_url=config.get("EVENT_BROKER_URL") or None,
            broker_exchange=config.get("EVENT_BROKER_EXCHANGE") or EXCHANGE,
            broker_timeout=float(config.get("EVENT_BROKER_TIMEOUT") or TIMEOUT),
        )


def current_settings() -> NotificationSettings:
    """For the edges (views, CLI, the worker's start): the current application's settings,
    as they are now. Needs an application context."""
    return NotificationSettings.from_config(current_app.config)
