"""Prometheus metrics (prometheus-client), served at ``GET /metrics``.

Under gunicorn every worker process writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` (set up
by ``gunicorn.conf.py``) and a scrape adds them up (prometheus-client's multiprocess mode). The
outbox gauges are read from the database at scrape time, so every process reports the truth.

Who may scrape: with ``METRICS_TOKEN`` set, a client sending ``Authorization: Bearer <token>``;
without it, loopback clients only (behind a trusted proxy, the forwarded client address counts).

What is counted where, without touching the code that does the work:

* requests: ``before_request``/``after_request`` hooks, by endpoint (the Flask endpoint name, so
  ids in URLs do not explode the label set), method and status;
* Stripe calls: each public method of the gateway object is wrapped in ``create_app``;
* Stripe events: the webhook view is wrapped and reads the outcome from its answer;
* payments created, status changes, refunds and merchant-webhook delivery attempts: rows
  inserted into ``payment_events`` and ``delivery_attempts`` are noted at flush and counted when
  their transaction commits (a rolled-back change is not counted).
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
import structlog
from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from ..db import unit_of_work
from ..extensions import db
from ..models import Delivery, DeliveryAttempt, TimelineEntry, utcnow
from ..stripe_gateway import GatewayDown, GatewayRejected, StripeGateway
from .logs import bind_stripe_id

log = structlog.get_logger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

disable_created_metrics()  # the *_created series double the page and tell Prometheus nothing

HTTP_REQUESTS = Counter(
    "checkout_http_requests_total", "HTTP requests answered.", ["endpoint", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "checkout_http_request_duration_seconds", "Time to answer an HTTP request.", ["endpoint"]
)
STRIPE_CALLS = Counter(
    "checkout_stripe_api_calls_total",
    "Calls to Stripe's API; outcome ok, rejected (4xx) or unavailable (unreachable, 5xx, 429).",
    ["operation", "outcome"],
)
STRIPE_LATENCY = Histogram(
    "checkout_stripe_api_call_duration_seconds", "Duration of a Stripe API call.", ["operation"]
)
STRIPE_EVENTS = Counter(
    "checkout_stripe_events_total",
    "Stripe webhook deliveries received, by event type and outcome (processed, duplicate, "
    "ignored, signature_invalid, error).",
    ["type", "outcome"],
)
PAYMENTS_CREATED = Counter("checkout_payments_created_total", "Payments created.")
PAYMENT_STATUS_CHANGES = Counter(
    "checkout_payment_status_changes_total", "Payments moved to a status.", ["status"]
)
REFUNDS = Counter("checkout_refunds_total", "Refunds requested and settled.", ["outcome"])
DELIVERY_ATTEMPTS = Counter(
    "checkout_webhook_delivery_attempts_total",
    "Merchant webhook delivery attempts, by result (succeeded, http_4xx, http_5xx, no_response).",
    ["result"],
)
JOB_RUNS = Counter(
    "checkout_periodic_job_runs_total", "Periodic job runs, by job and outcome.", ["job", "outcome"]
)

#: Timeline entry types that move a payment to a status (``payment.<status>``).
STATUS_ENTRIES = frozenset(
    {"payment.open", "payment.processing", "payment.succeeded", "payment.failed", "payment.expired"}
)
#: The gateway's operations (its public methods), each timed and counted.
STRIPE_OPERATIONS = (
    "create_checkout_session",
    "retrieve_checkout_session",
    "expire_checkout_session",
    "retrieve_payment_intent",
    "create_refund",
    "retrieve_refund",
    "list_refunds",
    "list_events",
)


class OutboxCollector(Collector):
    """Scrape-time gauges: messages waiting for delivery and the age of the oldest one.

    Needs an application context (the ``/metrics`` view has one). One aggregate query on
    ``event_deliveries`` restricted to the waiting statuses (indexed by status). If the database
    cannot answer, the gauges are left out and the rest of the scrape still works.
    """

    def collect(self) -> Iterator[GaugeMetricFamily]:
        waiting = Delivery.status.in_(("pending", "retrying"))
        try:
            with unit_of_work(fresh=True):  # a read of the latest commit, ended at once
                count, oldest = db.session.execute(
                    sa.select(sa.func.count(), sa.func.min(Delivery.created_at)).where(waiting)
                ).one()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("metrics: outbox gauges unavailable", error=type(exc).__name__)
            return
        yield GaugeMetricFamily(
            "checkout_outbox_backlog_messages",
            "Merchant notifications waiting for delivery (pending or retrying).",
            value=int(count),
        )
        age = 0.0
        if oldest is not None:
            age = max(0.0, (utcnow() - oldest).total_seconds())
        yield GaugeMetricFamily(
            "checkout_outbox_oldest_undelivered_age_seconds",
            "Age of the oldest notification not yet delivered (0 when none waits).",
            value=age,
        )


def scrape() -> bytes:
    """The metrics in Prometheus' text format: this process's (or, in multiprocess mode, every
    process's) counters and histograms, then the outbox gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    outbox = CollectorRegistry(auto_describe=False)
    outbox.register(OutboxCollector())
    return generate_latest(registry) + generate_latest(outbox)


def _may_scrape() -> bool:
    token = current_app.config["METRICS_TOKEN"]
    if token:
        sent = request.headers.get("Authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def metrics_view() -> Response:
    """``GET /metrics``: 200 in Prometheus' text format; 403 for a client not allowed to scrape."""
    if not _may_scrape():
        return Response("metrics: bearer METRICS_TOKEN required\n", 403, mimetype="text/plain")
    return Response(scrape(), 200, content_type=CONTENT_TYPE)


def instrument_gateway(gateway: StripeGateway) -> None:
    """Wrap ``gateway``'s operations (on this instance) to time and count each call and note the
    Stripe ids it returns in the request's log context."""
    for operation in STRIPE_OPERATIONS:
        setattr(gateway, operation, _timed(operation, getattr(gateway, operation)))
    construct_event = gateway.construct_event

    @functools.wraps(construct_event)
    def noted_construct_event(*args: Any, **kwargs: Any) -> dict[str, Any]:
        event = construct_event(*args, **kwargs)
        # Signed is not well-formed: the view refuses a malformed event, so read it defensively.
        if isinstance(event, dict):
            event_type, data = event.get("type"), event.get("data")
            obj = data.get("object") if isinstance(data, dict) else None
            g.stripe_event_type = event_type if isinstance(event_type, str) else "unknown"
            bind_stripe_id(_str_or_none(event.get("id")), "stripe_event_id")
            bind_stripe_id(_str_or_none(obj.get("id")) if isinstance(obj, dict) else None)
        return event

    gateway.construct_event = noted_construct_event  # type: ignore[method-assign]


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _timed(operation: str, call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "ok"
        try:
            result = call(*args, **kwargs)
        except GatewayRejected:
            outcome = "rejected"
            raise
        except GatewayDown:
            outcome = "unavailable"
            raise
        finally:
            STRIPE_CALLS.labels(operation, outcome).inc()
            STRIPE_LATENCY.labels(operation).observe(time.perf_counter() - started)
        if isinstance(result, dict):
            bind_stripe_id(result.get("id"))
        return result

    return timed


def _count_stripe_events(view: Callable[..., Any]) -> Callable[..., Response]:
    """Wrap the webhook view: count each delivery by event type and the outcome it answered."""

    @functools.wraps(view)
    def counted(*args: Any, **kwargs: Any) -> Response:
        try:
            response: Response = view(*args, **kwargs)  # the webhook view returns a Response
        except Exception:
            STRIPE_EVENTS.labels(g.get("stripe_event_type", "unknown"), "error").inc()
            raise
        body = response.get_json(silent=True) or {}
        if response.status_code == 200:
            outcome = str(body.get("outcome", "processed"))
        else:
            outcome = str((body.get("error") or {}).get("code", "error"))
        STRIPE_EVENTS.labels(g.get("stripe_event_type", "unknown"), outcome).inc()
        return response

    return counted


def _attempt_result(status_code: int | None) -> str:
    if status_code is None:
        return "no_response"
    if 200 <= status_code < 300:
        return "succeeded"
    return f"http_{status_code // 100}xx"


def _note_inserts(session: Session, _flush_context: Any) -> None:
    """After a flush: remember what the new rows will count once committed."""
    noted: list[Callable[[], None]] = session.info.setdefault("metrics_on_commit", [])
    for obj in session.new:
        if isinstance(obj, TimelineEntry):
            bind_stripe_id(obj.stripe_object_id)
            if obj.type == "payment.requested":
                noted.append(PAYMENTS_CREATED.inc)
            elif obj.type in STATUS_ENTRIES:
                noted.append(PAYMENT_STATUS_CHANGES.labels(obj.type.split(".", 1)[1]).inc)
            elif obj.type.startswith("refund."):
                noted.append(REFUNDS.labels(obj.type.split(".", 1)[1]).inc)
        elif isinstance(obj, DeliveryAttempt):
            noted.append(DELIVERY_ATTEMPTS.labels(_attempt_result(obj.status_code)).inc)


def _count_committed(session: Session) -> None:
    for count in session.info.pop("metrics_on_commit", []):
        count()


def _forget_rolled_back(session: Session, _previous_transaction: Any = None) -> None:
    session.info.pop("metrics_on_commit", None)


_listening = False


def _listen_for_inserts() -> None:
    """Once per process: count committed timeline entries and delivery attempts."""
    global _listening
    if not _listening:
        sa.event.listen(Session, "after_flush", _note_inserts)
        sa.event.listen(Session, "after_commit", _count_committed)
        sa.event.listen(Session, "after_soft_rollback", _forget_rolled_back)
        _listening = True


def init_app(app: Flask) -> None:
    """Count requests, wrap the gateway and the webhook view, serve ``GET /metrics``."""
    _listen_for_inserts()
    for _livemode, gateway in app.extensions["stripe_gateways"].modes():
        instrument_gateway(gateway)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
    webhook_view = "webhooks.stripe_webhook"
    if webhook_view in app.view_functions:
        app.view_functions[webhook_view] = _count_stripe_events(app.view_functions[webhook_view])

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count_request(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is not None:
            endpoint = request.endpoint or "unmatched"
            HTTP_REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
            HTTP_LATENCY.labels(endpoint).observe(time.perf_counter() - started)
        return response
