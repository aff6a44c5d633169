"""The merchant JSON API (``/api/v1``): authentication, error handling, endpoints."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, request
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from ..db import unit_of_work
from ..errors import ServiceError
from ..extensions import db
from ..merchants import merchant_for_api_key, note_key_use
from ..rate_limits import limit_api, retry_after_seconds
from ..responses import json_response
from ..stripe_gateway import stripe_gateways
from .error_docs import error_body, service_error_body

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
limit_api(bp)

#: Endpoints reachable without an API key.
PUBLIC_ENDPOINTS = frozenset({"api.openapi", "api.error_code"})


@bp.before_request
def authenticate() -> None:
    """Resolve ``g.merchant`` and the key's mode ``g.livemode`` from the bearer API key (401 if
    missing, unknown, revoked or expired; 403 ``test_mode_unavailable`` for a test key when no
    test Stripe account is configured); when the key's ``last_used_at`` is due, record it in a
    unit of work of its own, before the request's work starts."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    g.merchant, g.livemode, key_to_note = merchant_for_api_key(request.headers.get("Authorization"))
    if key_to_note is not None:
        with unit_of_work():
            note_key_use(key_to_note)
    g.stripe_gateway = stripe_gateways().for_mode(g.livemode)


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError) -> Response:
    db.session.rollback()
    return json_response(exc.status, service_error_body(exc))


@bp.errorhandler(RateLimitExceeded)
def rate_limited(exc: RateLimitExceeded) -> Response:
    """429 in Stripe's shape (``code: rate_limit``, which Stripe's SDKs raise as ``RateLimitError``)
    with ``Retry-After`` in seconds."""
    retry_after = retry_after_seconds()
    message = f"Too many requests ({exc.description}); retry after {retry_after} s."
    response = json_response(429, error_body("invalid_request_error", "rate_limit", message))
    response.headers["Retry-After"] = str(retry_after)
    return response


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    return json_response(exc.code or 500, error_body("invalid_request_error", code, exc.description or ""))


@bp.app_errorhandler(NotFound)
@bp.app_errorhandler(MethodNotAllowed)
def unrouted(exc: NotFound | MethodNotAllowed) -> Response | HTTPException:
    """A URL under ``/api/v1`` that no route serves is a JSON 404 ``resource_missing``, and a
    known URL with a method it does not take a JSON 405 ``method_not_allowed`` with ``Allow``
    (Stripe answers JSON for every ``/v1`` URL). Elsewhere the page Flask would show is kept."""
    if request.blueprint is not None or not request.path.startswith(bp.url_prefix + "/"):  # type: ignore[operator]
        return exc
    if isinstance(exc, MethodNotAllowed):
        allowed = ", ".join(sorted(exc.valid_methods or ()))
        message = f"{request.method} is not allowed on {request.path}; use {allowed}."
        response = json_response(405, error_body("invalid_request_error", "method_not_allowed", message))
        response.headers["Allow"] = allowed
        return response
    message = f"Unrecognized request URL ({request.method}: {request.path})."
    return json_response(404, error_body("invalid_request_error", "resource_missing", message))


@bp.errorhandler(Exception)
def unexpected_error(exc: Exception) -> Response:
    db.session.rollback()
    log.exception("unhandled error in %s %s", request.method, request.path)
    return json_response(500, error_body("api_error", "internal_error", "An unexpected error occurred."))


from . import (  # noqa: E402,F401  (routes register on import)
    api_keys,
    events,
    openapi,
    payments,
    refunds,
    timeline,
    webhook_endpoints,
)
