"""``/_sandbox`` control endpoints that let tests drive the sandbox without a browser."""

import copy
import time

from flask import Blueprint, current_app, jsonify, request

from .errors import StripeError
from .faults import FaultError
from .payments import REDIRECT_METHODS, pay_with_bank_account, pay_with_card, pay_with_redirect

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
    """Pay like the hosted form would (``payment_method``: card, us_bank_account, or a redirect
    method with ``outcome`` authorize / fail); declines still answer 200 with ``error`` set."""
    params = _params()
    email = params.get("email") or None
    method = params.get("payment_method", "card")
    if method in REDIRECT_METHODS:
        outcome = params.get("outcome", "authorize")
        if outcome not in ("authorize", "fail"):
            raise StripeError("`outcome` must be `authorize` or `fail`.", param="outcome")
        error = pay_with_redirect(
            _state(),
            session_id,
            method=method,
            email=email,
            name=params.get("name"),
            authorize=outcome == "authorize",
        )
    elif method == "us_bank_account":
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
    seconds = _number(_params().get("seconds"), "seconds")
    return jsonify({"now": _state().advance(seconds)})


@control.get("/settings")
def settings():
    """The sandbox's settings: ``settle_delay``, ``decline_rate``, ``webhook_retry_delays`` (seconds)."""
    state = _state()
    return jsonify(
        {
            "settle_delay": state.settle_delay,
            "decline_rate": state.decline_rate,
            "webhook_retry_delays": list(state.webhooks.retry_delays),
        }
    )


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
    timeout = _number(_params().get("timeout", 10), "timeout")
    drained = _state().webhooks.flush(timeout)
    return jsonify({"empty": drained, "pending": _state().webhooks.pending()})


@control.get("/faults")
def list_faults():
    """The faults in force, each with ``fired`` (how often it has fired)."""
    return jsonify({"faults": _state().faults.describe()})


@control.post("/faults")
def add_fault():
    """Put a fault in force (a JSON object, see :mod:`sandbox.faults`); 400 names a bad field."""
    spec = request.get_json(silent=True)
    try:
        fault = _state().faults.add(spec)
    except FaultError as error:
        raise StripeError(str(error), param="fault") from None
    return jsonify(fault.describe()), 201


@control.delete("/faults")
def clear_faults():
    """Remove every fault."""
    _state().faults.clear()
    return jsonify({"faults": []})


@control.get("/decline_rate")
def decline_rate():
    """The share (0..1) of good-card payments declined."""
    return jsonify({"decline_rate": _state().decline_rate})


@control.post("/decline_rate")
def set_decline_rate():
    """Set ``rate`` (0..1): that share of good-card payments is declined (``generic_decline``)."""
    rate = _number(_params().get("rate"), "rate")
    if rate > 1:
        raise StripeError("`rate` must be between 0 and 1.", param="rate")
    _state().decline_rate = rate
    return jsonify({"decline_rate": rate})


@control.post("/slow_endpoint")
def slow_endpoint():
    """A webhook endpoint that answers slowly: waits ``delay`` seconds (query), answers ``status``.

    For testing a sender's timeouts (e.g. the service's merchant webhooks) without writing a server.
    """
    delay = _number(request.args.get("delay", 0), "delay")
    status = request.args.get("status", "200")
    if not status.isdigit() or not 200 <= int(status) <= 599:
        raise StripeError("`status` must be an HTTP status code.", param="status")
    time.sleep(min(delay, 120))
    return jsonify({"received": True}), int(status)


def _number(raw, name):
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise StripeError(f"`{name}` must be a number.", param=name) from None
    if value < 0:
        raise StripeError(f"`{name}` must not be negative.", param=name)
    return value
