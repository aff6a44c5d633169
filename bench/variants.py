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


def _no_request_log(app: Any) -> None:
    logging.getLogger("app.request").setLevel(logging.WARNING)


def _no_rate_limits(app: Any) -> None:
    from app.extensions import limiter

    limiter.enabled = False


class _NoMetric:
    def labels(self, *_labels: str) -> _NoMetric:
        return self

    def inc(self, *_args: Any) -> None:
        pass

    def observe(self, *_args: Any) -> None:
        pass


def _no_request_metrics(app: Any) -> None:
    from app.observability import metrics

    metrics.HTTP_REQUESTS = metrics.HTTP_LATENCY = _NoMetric()  # type: ignore[assignment]


def _no_security_headers(app: Any) -> None:
    hooks = app.after_request_funcs[None]
    hooks[:] = [hook for hook in hooks if getattr(hook, "__name__", "") != "_security_headers"]


#: Name → the change; names are what ``--variant`` accepts.
VARIANTS: dict[str, Callable[[Any], None]] = {
    "expire_on_commit=False": _keep_attributes_after_commit,
    "stripe logger at WARNING": _quiet_stripe_sdk,
    "no pool_pre_ping": _no_pre_ping,
    "no request log line": _no_request_log,
    "no rate limits": _no_rate_limits,
    "no request metrics": _no_request_metrics,
    "no security headers": _no_security_headers,
}
