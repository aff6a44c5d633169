"""``POST /webhooks/stripe``: Stripe's signed events.

The signature is verified on the raw body before anything else (400, nothing written, if it is
missing, wrong or older than 300 s). The event is then handled in one transaction that also
stores its id under a unique key, so a redelivery is a 200 with no effect. We answer 2xx only
after that commit; any failure is a 5xx so that Stripe retries.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from ..api.idempotency import json_response
from ..errors import ServiceError
from ..extensions import db
from ..payments.states import Source
from ..payments.stripe_events import handle_event
from ..stripe_gateway import SignatureInvalid, gateway

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/stripe")
def stripe_webhook() -> Response:
    """Verify, record and apply one Stripe event; ``{"received": true}`` on success."""
    try:
        event = gateway().construct_event(request.get_data(), request.headers.get("Stripe-Signature"))
    except SignatureInvalid as exc:
        log.warning("rejected Stripe webhook: %s", exc)
        body = {
            "error": {
                "type": "invalid_request_error",
                "code": "signature_invalid",
                "message": str(exc),
                "param": "Stripe-Signature",
            }
        }
        return json_response(400, body)
    outcome = handle_event(event, source=Source.WEBHOOK)
    return json_response(200, {"received": True, "outcome": outcome})


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError) -> Response:
    db.session.rollback()
    return json_response(exc.status, exc.to_dict())


@bp.errorhandler(Exception)
def unexpected_error(exc: Exception) -> Response:
    db.session.rollback()
    log.exception("failed to process a Stripe webhook; Stripe will retry")
    body = {
        "error": {
            "type": "api_error",
            "code": "processing_failed",
            "message": "The event could not be processed; it will be retried.",
            "param": None,
        }
    }
    return json_response(500, body)
