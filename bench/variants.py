"""What-if settings for the service, applied from outside ``app/`` to measure what a change would buy.

Each takes the built Flask app and changes one thing in place. Used by ``bench.profile --variant``
and, under gunicorn, by :mod:`bench.variant_wsgi` (``make bench BENCH_ARGS="--variant …"``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any


def _keep_attributes_after_commit(app: Any) -> None:
    from app.extensions import db

    with app.app_context():
        db.session.configure(expire_on_commit=False)


def _quiet_stripe_sdk(app: Any) -> None:
    logging.getLogger("stripe").setLevel(logging.WARNING)


def _no_pre_ping(app: Any) -> None:
    from app.extensions import db

    with app.app_context():
        db.engine.pool._pre_ping = False


#: Name → the change; names are what ``--variant`` accepts.
VARIANTS: dict[str, Callable[[Any], None]] = {
    "expire_on_commit=False": _keep_attributes_after_commit,
    "stripe logger at WARNING": _quiet_stripe_sdk,
    "no pool_pre_ping": _no_pre_ping,
}
