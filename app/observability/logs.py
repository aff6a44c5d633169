"""Structured logs: JSON lines in production, readable lines in development, through structlog.

The standard library's ``logging`` is routed through the same processors, so every existing
``log.info(...)`` becomes a structured line. Each line of a request carries ``request_id`` (from
a sane ``X-Request-Id``, else generated; returned as ``Request-Id``) and the ids the request
touched: ``merchant_id`` (the authenticated merchant), ``payment_id`` (from the URL or a timeline
entry written by the request), ``stripe_event_id`` and Stripe object ids (never a Checkout
Session id: its ``cs_…`` id is a bearer credential for the hosted payment page).

A last processor masks anything shaped like a secret or card data that still reached a message:
API keys (``mk_…``), Stripe keys (``sk_…``, ``rk_…``), webhook secrets (``whsec_…``), Checkout
Session ids and 13–19 digit card numbers.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

import sqlalchemy as sa
import structlog
from flask import Flask, Response, g, has_request_context, request
from structlog.contextvars import bind_contextvars, clear_contextvars
from structlog.typing import EventDict, Processor

#: ``X-Request-Id`` values we adopt as they are; anything else gets a fresh id.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_SECRET_SHAPES = re.compile(
    r"\b(?:mk|sk_live|sk_test|rk_live|rk_test|whsec|cs_live|cs_test|cs)_[A-Za-z0-9_-]+"
    r"|\b(?:\d[ -]?){12,18}\d\b"
)

#: Stripe object id prefixes that identify what a request touched and are safe to log.
LOGGABLE_STRIPE_PREFIXES = ("pi_", "ch_", "re_", "evt_", "py_")


def redact(text: str) -> str:
    """``text`` with secret-shaped substrings replaced by ``[redacted]``."""
    return _SECRET_SHAPES.sub("[redacted]", text)


def _redact_event(_logger: Any, _name: str, event_dict: EventDict) -> EventDict:
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


def _request_ids(_logger: Any, _name: str, event_dict: EventDict) -> EventDict:
    """Add the request's id, merchant and URL payment id, read when the line is logged (the
    merchant is known only after the API's authentication hook has run)."""
    if has_request_context():
        event_dict.setdefault("request_id", g.get("request_id"))
        merchant = g.get("merchant")
        if merchant is not None:
            # The key from the identity map, never an attribute: a commit expires the instance,
            # and reloading it here would query the database inside the logging handler's lock
            # (on SQLite a BEGIN IMMEDIATE, deadlocked with any writer that logs meanwhile).
            identity = sa.inspect(merchant).identity
            if identity:
                event_dict.setdefault("merchant_id", identity[0])
        payment_id = (request.view_args or {}).get("payment_id")
        if payment_id:
            event_dict.setdefault("payment_id", payment_id)
    return event_dict


def bind_stripe_id(object_id: str | None, key: str = "stripe_object_id") -> None:
    """Note a Stripe id the current request touched, unless it is a Checkout Session's."""
    if has_request_context() and object_id and object_id.startswith(LOGGABLE_STRIPE_PREFIXES):
        bind_contextvars(**{key: object_id})


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        _request_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def formatter(log_format: str) -> logging.Formatter:
    """A ``logging.Formatter`` rendering any record (structlog's or the standard library's) as
    one JSON object (``log_format="json"``) or one readable line (``"console"``)."""
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact_event,
            renderer,
        ],
    )


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Our root handler (a class of its own so that a second ``create_app`` replaces it)."""


def configure_logging(log_format: str, level: str) -> None:
    """Route structlog and the standard library to one stderr handler at ``level``.

    The Stripe SDK logs every request at INFO (with full URLs); it is held at WARNING.
    """
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    handler = _Handler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("stripe").setLevel(logging.WARNING)
    # No line shows the caller's file and line, its thread or its multiprocessing name, so
    # records do not collect them (the Logging HOWTO, "Optimization"): finding the caller walks
    # the stack for every record (measured: 48-65 -> 43-48 µs per request line).
    # (The process id stays: gunicorn's own lines show it.)
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logMultiprocessing = False


request_log = structlog.get_logger("app.request")


def init_app(app: Flask) -> None:
    """Configure logging from ``LOG_FORMAT``/``LOG_LEVEL`` and give every request an id."""
    configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])

    @app.before_request
    def _start_request() -> None:
        clear_contextvars()  # a worker thread serves many requests
        sent = request.headers.get("X-Request-Id", "")
        g.request_id = sent if SANE_REQUEST_ID.match(sent) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish_request(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers["Request-Id"] = request_id
            elapsed_ms = (time.perf_counter() - g.request_started) * 1000
            request_log.info(
                "request",
                method=request.method,
                path=request.path,  # never the query string: success URLs carry session ids
                status=response.status_code,
                duration_ms=round(elapsed_ms, 1),
            )
        return response
