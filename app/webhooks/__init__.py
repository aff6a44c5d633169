"""``POST /webhooks/stripe``: Stripe's signed events.

The signature is verified on the raw body before anything else (400, nothing written, if it is
missing, wrong or older than 300 s), against the live account's secrets, then the test account's:
the secret that verifies decides the mode, and the event touches only payments of that mode. An
event whose ``livemode`` is not that account's is refused (400 ``livemode_mismatch``, nothing
written). The event is then handled in one transaction that also
stores its id under a unique key, so a redelivery is a 200 with no effect. We answer 2xx only
after that commit; any failure is a 5xx so that Stripe retries.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from ..errors import ServiceError, error_object
from ..extensions import db
from ..payments.states import Source
from ..payments.stripe_events import handle_event
from ..responses import json_response
from ..stripe_gateway import LivemodeMismatch, SignatureInvalid, stripe_gateways

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/stripe")
def stripe_webhook() -> Response:
    """Verify, record and apply one Stripe event; ``{"received": true}`` on success."""
    gateways = stripe_gateways()
    try:
        livemodes, event = gateways.construct_event(
            request.get_data(), request.headers.get("Stripe-Signature")
        )
    except (SignatureInvalid, LivemodeMismatch) as exc:
        log.warning("rejected Stripe webhook: %s", exc)
        if isinstance(exc, SignatureInvalid):
            body = error_object("invalid_request_error", "signature_invalid", str(exc), "Stripe-Signature")
        else:
            body = error_object("invalid_request_error", "livemode_mismatch", str(exc), "livemode")
        return json_response(400, body)
    outcome = handle_event(event, gateways, livemodes=livemodes, source=Source.WEBHOOK)
    return json_response(200, {"received": True, "outcome": outcome})


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError) -> Response:
    db.session.rollback()
    return json_response(exc.status, exc.to_dict())


@bp.errorhandler(Exception)
def unexpected_error(exc: Exception) -> Response:
    db.session.rollback()
    log.exception("failed to process a Stripe webhook; Stripe will retry")
    message = "The event could not be processed; it will be retried."
    return json_response(500, error_object("api_error", "processing_failed", message))
