"""The catalogue of the API's error codes and the ``doc_url`` each error object carries.

Stripe's error objects have a ``doc_url`` naming a page about their ``code``
(https://docs.stripe.com/api/errors); ours is ``GET /api/v1/errors/<code>`` on this service
(served without an API key by :mod:`app.api.openapi`), so that the link always resolves.
The README's "Errors" section lists the same codes.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, request

from ..errors import ServiceError, error_object

#: ``code -> (HTTP status, type, what it means and what to do)``.
ERROR_CODES: dict[str, tuple[int, str, str]] = {
    "parameter_invalid": (
        400,
        "invalid_request_error",
        "A parameter has a wrong type or value; `param` names it.",
    ),
    "parameter_missing": (400, "invalid_request_error", "A required parameter is missing; `param` names it."),
    "parameter_unknown": (
        400,
        "invalid_request_error",
        "The request has a parameter (body member or query parameter) this endpoint does not take; "
        "`param` names it.",
    ),
    "json_too_deep": (400, "invalid_request_error", "The JSON body nests arrays and objects too deeply."),
    "invalid_api_key": (
        401,
        "authentication_error",
        "The API key is missing, malformed, unknown, revoked or expired.",
    ),
    "test_mode_unavailable": (
        403,
        "invalid_request_error",
        "Test mode is not configured on this service (an `mk_test_…` key, or `livemode: false`).",
    ),
    "resource_missing": (
        404,
        "invalid_request_error",
        "No such object (or URL) for this merchant; another merchant's id is indistinguishable.",
    ),
    "method_not_allowed": (
        405,
        "invalid_request_error",
        "The URL exists but not with this method; see `Allow`.",
    ),
    "order_conflict": (
        409,
        "invalid_request_error",
        "The order already has a live payment (its id is in `payment_id`).",
    ),
    "idempotency_key_in_use": (
        409,
        "invalid_request_error",
        "A request with this Idempotency-Key is still being processed; retry shortly.",
    ),
    "payment_not_expirable": (409, "invalid_request_error", "Only an `open` payment can be expired."),
    "payment_not_refundable": (409, "invalid_request_error", "Only a paid payment can be refunded."),
    "refund_exceeds_amount": (
        409,
        "invalid_request_error",
        "The refund is larger than what is left to refund.",
    ),
    "api_key_inactive": (
        409,
        "invalid_request_error",
        "The API key is revoked or expired; it cannot be rolled.",
    ),
    "idempotency_key_mismatch": (
        422,
        "invalid_request_error",
        "This Idempotency-Key was used with a different request within 24 hours.",
    ),
    "gateway_rejected": (422, "invalid_request_error", "Stripe refused the request; the object is `failed`."),
    "rate_limit": (429, "invalid_request_error", "Too many requests; retry after `Retry-After` seconds."),
    "internal_error": (
        500,
        "api_error",
        "An unexpected error on our side; it is logged with the Request-Id.",
    ),
    "gateway_unavailable": (
        502,
        "api_error",
        "Stripe could not be reached; the same request can safely be retried.",
    ),
}


def doc_url(code: str) -> str | None:
    """``<PUBLIC_BASE_URL or this request's host>/api/v1/errors/<code>`` for a catalogued code,
    else None (and None outside a request)."""
    if code not in ERROR_CODES or not has_request_context():
        return None
    base = current_app.config["PUBLIC_BASE_URL"] or request.host_url.rstrip("/")
    return f"{base}/api/v1/errors/{code}"


def error_body(type_: str, code: str, message: str, param: str | None = None, **extra: Any) -> dict[str, Any]:
    """The API's error object ``{"error": {"type", "code", "message", "param", "doc_url", ...extra}}``."""
    return error_object(type_, code, message, param, doc_url=doc_url(code), **extra)


def error_code_to_dict(code: str) -> dict[str, Any]:
    """``{"object": "error_code", "code", "status", "type", "description"}`` for a catalogued code
    (``KeyError`` otherwise)."""
    status, type_, description = ERROR_CODES[code]
    return {"object": "error_code", "code": code, "status": status, "type": type_, "description": description}


def service_error_body(exc: ServiceError) -> dict[str, Any]:
    """:func:`error_body` for a :class:`ServiceError` (its ``extra`` members included)."""
    return error_body(exc.type, exc.code, exc.message, exc.param, **exc.extra)
