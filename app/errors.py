"""Error classes shared by every surface of the service.

Each class knows its HTTP status and a machine-readable ``code``. Blueprints turn them into the
JSON error object ``{"error": {"type", "code", "message", "param"}}`` (API, webhooks) or into an
HTML page (shopper pages), one handler per blueprint.
"""

from __future__ import annotations

from typing import Any


def error_object(
    type_: str, code: str, message: str, param: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The JSON error object ``{"error": {"type", "code", "message", "param", ...extra}}`` (Stripe's
    shape, https://docs.stripe.com/api/errors): ``param`` names the offending request field."""
    return {"error": {"type": type_, "code": code, "message": message, "param": param, **extra}}


class ServiceError(Exception):
    """Base class: an error with an HTTP ``status``, an error ``type`` and a ``code``.

    ``param`` names the offending request field (dotted/indexed path such as
    ``line_items[0].unit_amount``) when there is one. ``extra`` holds additional members
    added to the error object (for example the id of a conflicting payment).
    """

    status: int = 500
    type: str = "api_error"
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        """The JSON error object: ``{"error": {"type", "code", "message", "param", ...extra}}``."""
        return error_object(self.type, self.code, self.message, self.param, **self.extra)


class InvalidRequest(ServiceError):
    """400: the request is malformed or a parameter is invalid (``param`` names it)."""

    status = 400
    type = "invalid_request_error"
    code = "parameter_invalid"


class AuthenticationFailed(ServiceError):
    """401: the API key is missing, unknown or revoked."""

    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class TestModeUnavailable(ServiceError):
    """403: a test-mode key or object was used, but no test Stripe account is configured
    (``STRIPE_TEST_SECRET_KEY``). (A test key asking for a live-mode key is a 400
    ``parameter_invalid`` on ``livemode``.)"""

    status = 403
    type = "invalid_request_error"
    code = "test_mode_unavailable"


class NotFound(ServiceError):
    """404: no such object for this merchant (another merchant's id is indistinguishable)."""

    status = 404
    type = "invalid_request_error"
    code = "resource_missing"


class Conflict(ServiceError):
    """409: the request conflicts with the current state (order_conflict, payment_not_expirable, ...)."""

    status = 409
    type = "invalid_request_error"
    code = "conflict"


class Unprocessable(ServiceError):
    """422: well-formed but refused (idempotency_key_mismatch, gateway_rejected)."""

    status = 422
    type = "invalid_request_error"
    code = "unprocessable"


class GatewayUnavailable(ServiceError):
    """502: Stripe could not be reached after the SDK's retries; safe to retry the same request."""

    status = 502
    type = "api_error"
    code = "gateway_unavailable"
