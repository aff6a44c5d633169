"""The merchant JSON API (``/api/v1``): authentication, error handling, endpoints."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, request
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from ..errors import ServiceError
from ..extensions import db
from ..merchants import merchant_for_api_key
from ..rate_limits import limit_api, retry_after_seconds
from .idempotency import json_response

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
limit_api(bp)

#: Endpoints reachable without an API key.
PUBLIC_ENDPOINTS = frozenset({"api.openapi"})


@bp.before_request
def authenticate() -> None:
    """Resolve ``g.merchant`` from the bearer API key (401 if missing, unknown or revoked)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    g.merchant = merchant_for_api_key(request.headers.get("Authorization"))


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError) -> Response:
    db.session.rollback()
    return json_response(exc.status, exc.to_dict())


@bp.errorhandler(RateLimitExceeded)
def rate_limited(exc: RateLimitExceeded) -> Response:
    """429 in Stripe's shape (``code: rate_limit``, which Stripe's SDKs raise as ``RateLimitError``)
    with ``Retry-After`` in seconds."""
    retry_after = retry_after_seconds()
    body = {
        "error": {
            "type": "invalid_request_error",
            "code": "rate_limit",
            "message": f"Too many requests ({exc.description}); retry after {retry_after} s.",
            "param": None,
        }
    }
    response = json_response(429, body)
    response.headers["Retry-After"] = str(retry_after)
    return response


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    body = {
        "error": {"type": "invalid_request_error", "code": code, "message": exc.description, "param": None}
    }
    return json_response(exc.code or 500, body)


@bp.errorhandler(Exception)
def unexpected_error(exc: Exception) -> Response:
    db.session.rollback()
    log.exception("unhandled error in %s %s", request.method, request.path)
    body = {
        "error": {
            "type": "api_error",
            "code": "internal_error",
            "message": "An unexpected error occurred.",
            "param": None,
        }
    }
    return json_response(500, body)


from . import (  # noqa: E402,F401  (routes register on import)
    events,
    openapi,
    payments,
    refunds,
    timeline,
    webhook_endpoints,
)
