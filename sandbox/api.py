"""The Stripe-compatible ``/v1`` API: auth, idempotency, routing and JSON rendering."""

import json

from flask import Blueprint, current_app, g, request

from . import checkout, refunds
from .errors import StripeError
from .listing import created_filter, expand, paginate, session_line_items, type_filter
from .objects import API_VERSION, new_id
from .state import current_request
from .wire import parse_params, reject_unknown

api = Blueprint("api", __name__, url_prefix="/v1")
_LIST_PARAMS = {"limit", "starting_after", "ending_before", "expand", "created"}


def stripe_response(body, status=200, headers=None):
    """Serialise ``body`` as Stripe does, with the request id headers."""
    response = current_app.response_class(
        json.dumps(body, indent=2) + "\n", status=status, mimetype="application/json"
    )
    response.headers["Request-Id"] = g.get("request_id") or new_id("req_", 14)
    response.headers["Stripe-Version"] = API_VERSION
    response.headers.update(headers or {})
    return response


def error_response(error):
    """Render a :class:`StripeError` as Stripe's error object."""
    return stripe_response({"error": error.to_dict()}, error.status)


def _state():
    return current_app.sandbox_state


@api.before_request
def _authenticate():
    g.request_id = new_id("req_", 14)
    header = request.headers.get("Authorization", "")
    key = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
    if not key:
        return error_response(
            StripeError(
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
                status=401,
            )
        )
    if not key.startswith("sk_test_"):
        shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:]
        return error_response(
            StripeError(
                f"Invalid API Key provided: {shown}. The sandbox only accepts test mode "
                "secret keys (sk_test_...).",
                status=401,
                code="api_key_invalid" if not key.startswith("sk_live_") else "livemode_mismatch",
            )
        )
    g.api_key = key
    query = request.query_string.decode()
    body = request.get_data(as_text=True) if request.method == "POST" else ""
    g.params = parse_params("&".join(part for part in (query, body) if part))
    return None


@api.errorhandler(StripeError)
def _stripe_error(error):
    return error_response(error)


def _respond(obj, params=None):
    """Render an object, applying ``expand`` from the request params."""
    params = g.params if params is None else params
    with _state().lock:
        return stripe_response(expand(_state(), obj, params.get("expand") or []))


def _mutation(handler):
    """Run a POST handler with Stripe's Idempotency-Key semantics.

    Successful (and card-declined) results are stored; a retry with the same
    key and params replays them, different params give ``idempotency_error``.
    """
    state = _state()
    key = request.headers.get("Idempotency-Key")
    fingerprint = [request.method, request.path, g.params]
    token = current_request.set({"id": g.request_id, "idempotency_key": key})
    try:
        with state.lock:
            stored = state.idempotency.get((g.api_key, key)) if key else None
            if stored is not None:
                if stored["fingerprint"] != fingerprint:
                    raise StripeError(
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                        type="idempotency_error",
                    )
                return stripe_response(
                    stored["body"],
                    stored["status"],
                    {
                        "Idempotent-Replayed": "true",
                        "Original-Request": stored["request_id"],
                        "Idempotency-Key": key,
                    },
                )
            try:
                response = handler()
            except StripeError as error:
                response = error_response(error)
            if key:
                response.headers["Idempotency-Key"] = key
                if response.status_code < 400 or response.status_code == 402:
                    state.idempotency[(g.api_key, key)] = {
                        "fingerprint": fingerprint,
                        "status": response.status_code,
                        "body": response.get_json(),
                        "request_id": g.request_id,
                    }
            return response
    finally:
        current_request.reset(token)


# -- checkout sessions --------------------------------------------------------


@api.post("/checkout/sessions")
def create_session():
    return _mutation(lambda: _respond(checkout.create_session(_state(), g.params)))


@api.get("/checkout/sessions")
def list_sessions():
    params = g.params
    reject_unknown(params, _LIST_PARAMS | {"payment_intent", "status"})
    created = created_filter(params)
    with _state().lock:
        sessions = [
            s
            for s in reversed(_state().sessions.values())
            if created(s["created"])
            and params.get("payment_intent") in (None, s["payment_intent"])
            and params.get("status") in (None, s["status"])
        ]
        page = paginate(sessions, params, "/v1/checkout/sessions", "checkout.session")
        return _respond(page)


@api.get("/checkout/sessions/<session_id>")
def retrieve_session(session_id):
    reject_unknown(g.params, {"expand"})
    return _respond(_state().get("checkout.session", session_id))


@api.post("/checkout/sessions/<session_id>/expire")
def expire_session(session_id):
    reject_unknown(g.params, {"expand"})
    return _mutation(lambda: _respond(checkout.expire_session(_state(), session_id)))


@api.get("/checkout/sessions/<session_id>/line_items")
def list_line_items(session_id):
    reject_unknown(g.params, _LIST_PARAMS - {"created"})
    with _state().lock:
        return _respond(session_line_items(_state(), session_id, g.params))


# -- payment intents, charges -------------------------------------------------


@api.get("/payment_intents/<intent_id>")
def retrieve_payment_intent(intent_id):
    reject_unknown(g.params, {"expand", "client_secret"})
    return _respond(_state().get("payment_intent", intent_id))


@api.get("/charges/<charge_id>")
def retrieve_charge(charge_id):
    reject_unknown(g.params, {"expand"})
    return _respond(_state().get("charge", charge_id))


@api.get("/charges/<charge_id>/refunds")
def list_charge_refunds(charge_id):
    _state().get("charge", charge_id)
    return _list_refunds(f"/v1/charges/{charge_id}/refunds", {"charge": charge_id})


# -- events -------------------------------------------------------------------


@api.get("/events/<event_id>")
def retrieve_event(event_id):
    reject_unknown(g.params, {"expand"})
    return _respond(_state().get("event", event_id))


@api.get("/events")
def list_events():
    params = g.params
    reject_unknown(params, _LIST_PARAMS | {"type", "types"})
    created = created_filter(params)
    wanted = type_filter(params)
    with _state().lock:
        events = [
            e for e in reversed(_state().events.values()) if created(e["created"]) and wanted(e["type"])
        ]
        return _respond(paginate(events, params, "/v1/events", "event"))


# -- refunds ------------------------------------------------------------------


@api.post("/refunds")
def create_refund():
    return _mutation(lambda: _respond(refunds.create_refund(_state(), g.params)))


@api.get("/refunds/<refund_id>")
def retrieve_refund(refund_id):
    reject_unknown(g.params, {"expand"})
    return _respond(_state().get("refund", refund_id))


@api.get("/refunds")
def list_refunds():
    reject_unknown(g.params, _LIST_PARAMS | {"charge", "payment_intent"})
    return _list_refunds(
        "/v1/refunds",
        {
            "charge": g.params.get("charge"),
            "payment_intent": g.params.get("payment_intent"),
        },
    )


def _list_refunds(url, filters):
    created = created_filter(g.params)
    with _state().lock:
        found = [
            r
            for r in reversed(_state().refunds.values())
            if created(r["created"]) and all(value in (None, r[field]) for field, value in filters.items())
        ]
        return _respond(paginate(found, g.params, url, "refund"))


def unrecognized_url():
    """Stripe's answer for an unknown ``/v1`` route or method."""
    return error_response(
        StripeError(
            f"Unrecognized request URL ({request.method}: {request.path}). "
            "Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
            status=404,
        )
    )
