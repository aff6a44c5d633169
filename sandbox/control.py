"""``/_sandbox`` control endpoints that let tests drive the sandbox without a browser."""

import copy

from flask import Blueprint, current_app, jsonify, request

from .errors import StripeError
from .payments import pay_with_bank_account, pay_with_card

control = Blueprint("control", __name__, url_prefix="/_sandbox")


def _state():
    return current_app.sandbox_state


def _params():
    """Accept JSON or form bodies (and query strings)."""
    params = dict(request.args)
    params.update(request.form)
    params.update(request.get_json(silent=True) or {})
    return params


@control.errorhandler(StripeError)
def _error(error):
    return jsonify({"error": error.to_dict()}), error.status


@control.get("/health")
def health():
    """Liveness probe."""
    return jsonify({"ok": True})


@control.post("/checkout/sessions/<session_id>/pay")
def pay(session_id):
    """Pay like the hosted form would; declines still answer 200 with ``error`` set."""
    params = _params()
    email = params.get("email") or None
    if params.get("payment_method", "card") == "us_bank_account":
        error = pay_with_bank_account(
            _state(),
            session_id,
            routing_number=str(params.get("routing_number", "110000000")),
            account_number=str(params.get("account_number", "000123456789")),
            email=email,
            name=params.get("name"),
        )
    else:
        error = pay_with_card(
            _state(),
            session_id,
            number=str(params.get("card_number", "4242424242424242")),
            email=email,
            name=params.get("name"),
            expiry=params.get("exp"),
            cvc=params.get("cvc"),
        )
    with _state().lock:
        session = copy.deepcopy(_state().get("checkout.session", session_id))
    return jsonify({"session": session, "error": error.to_dict() if error else None})


@control.post("/clock/advance")
def advance_clock():
    """Advance the sandbox clock by ``seconds`` and process expiries and settlements."""
    raw = _params().get("seconds")
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        raise StripeError("`seconds` must be a number.", param="seconds") from None
    if seconds < 0:
        raise StripeError("`seconds` must not be negative.", param="seconds")
    return jsonify({"now": _state().advance(seconds)})


@control.get("/clock")
def clock():
    """The current sandbox time."""
    return jsonify({"now": _state().now()})


@control.post("/webhooks/disable")
def disable_webhooks():
    """Stop delivering webhooks; events created meanwhile are never delivered."""
    _state().webhooks.enabled = False
    return jsonify({"enabled": False})


@control.post("/webhooks/enable")
def enable_webhooks():
    """Resume webhook delivery for new events."""
    _state().webhooks.enabled = True
    return jsonify({"enabled": True})


@control.post("/webhooks/endpoints")
def add_webhook_endpoint():
    """Register another URL to receive every future event."""
    url = _params().get("url")
    if not url or not str(url).startswith(("http://", "https://")):
        raise StripeError("`url` must be an http(s) URL.", param="url")
    _state().webhooks.add_url(url)
    return jsonify({"urls": list(_state().webhooks.urls)})


@control.post("/deliveries/flush")
def flush_deliveries():
    """Wait (up to ``timeout`` seconds, default 10) until no delivery is pending."""
    try:
        timeout = float(_params().get("timeout", 10))
    except (TypeError, ValueError):
        raise StripeError("`timeout` must be a number.", param="timeout") from None
    drained = _state().webhooks.flush(timeout)
    return jsonify({"empty": drained, "pending": _state().webhooks.pending()})
