"""The Stripe-compatible ``/v1`` API: auth, idempotency, routing and JSON rendering."""

import json
import re

from flask import Blueprint, current_app, g, request

from . import catalog, checkout, refunds
from .errors import StripeError
from .listing import created_filter, expand, paginate, session_line_items, type_filter
from .objects import API_VERSION
from .state import current_request
from .wire import parse_params, reject_unknown

api = Blueprint("api", __name__, url_prefix="/v1")
_LIST_PARAMS = {"limit", "starting_after", "ending_before", "expand", "created"}
# Stripe accepts dated versions, optionally with the release name ("2026-10-28.endive").
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")


def stripe_response(body, status=200, headers=None):
    """Serialise ``body`` as Stripe does, with the request id headers."""
    response = current_app.response_class(
        json.dumps(body, indent=2) + "\n", status=status, mimetype="application/json"
    )
    response.headers["Stripe-Version"] = g.get("stripe_version") or API_VERSION
    response.headers.update(headers or {})
    return response


def error_response(error):
    """Render a :class:`StripeError` as Stripe's error object."""
    return stripe_response({"error": error.to_dict()}, error.status)


def _state():
    return current_app.sandbox_state


@api.before_request
def _authenticate():
    """Check the API key and the ``Stripe-Version`` header, then parse the params."""
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
    version = request.headers.get("Stripe-Version")
    if version is not None and not _VERSION.match(version):
        return error_response(
            StripeError(f"Invalid Stripe API version: {version}. See https://docs.stripe.com/api/versioning.")
        )
    # Stripe answers in the version the request asked for and says so in the response header;
    # the sandbox has one object shape (``API_VERSION``'s) for every version.
    g.stripe_version = version
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
    reject_unknown(params, _LIST_PARAMS | {"payment_intent", "status", "customer"})
    return _list(
        "/v1/checkout/sessions",
        _state().sessions,
        "checkout.session",
        lambda s: all(
            params.get(field) in (None, s[field]) for field in ("payment_intent", "status", "customer")
        ),
    )


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


# -- products, prices, customers ----------------------------------------------


@api.post("/products")
def create_product():
    return _mutation(lambda: _respond(catalog.create_product(_state(), g.params)))


@api.get("/products/<product_id>")
def retrieve_product(product_id):
    reject_unknown(g.params, {"expand"})
    return _respond(_state().get("product", product_id))


@api.get("/products")
def list_products():
    reject_unknown(g.params, _LIST_PARAMS | {"active", "ids"})
    return _list("/v1/products", _state().products, "product", catalog.product_filter(g.params))


@api.post("/prices")
def create_price():
    return _mutation(lambda: _respond(catalog.create_price(_state(), g.params)))


@api.get("/prices/<price_id>")
def retrieve_price(price_id):
    reject_unknown(g.params, {"expand"})
    return _respond(_state().get("price", price_id))


@api.get("/prices")
def list_prices():
    reject_unknown(g.params, _LIST_PARAMS | {"active", "currency", "lookup_keys", "product", "type"})
    return _list("/v1/prices", _state().prices, "price", catalog.price_filter(g.params))


@api.post("/customers")
def create_customer():
    return _mutation(lambda: _respond(catalog.create_customer(_state(), g.params)))


@api.get("/customers/<customer_id>")
def retrieve_customer(customer_id):
    reject_unknown(g.params, {"expand"})
    return _respond(_state().get("customer", customer_id))


def _list(url, store, kind, wanted):
    """A newest-first page of the objects in ``store`` that pass ``wanted`` and ``created``."""
    created = created_filter(g.params)
    with _state().lock:
        found = [obj for obj in reversed(store.values()) if created(obj["created"]) and wanted(obj)]
        return _respond(paginate(found, g.params, url, kind))


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
    reject_unknown(g.params, _LIST_PARAMS | {"type", "types"})
    wanted = type_filter(g.params)
    return _list("/v1/events", _state().events, "event", lambda e: wanted(e["type"]))


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
    return _list(
        url,
        _state().refunds,
        "refund",
        lambda r: all(value in (None, r[field]) for field, value in filters.items()),
    )


def unrecognized_url():
    """Stripe's answer for an unknown ``/v1`` route or method."""
    return error_response(
        StripeError(
            f"Unrecognized request URL ({request.method}: {request.path}). "
            "Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
            status=404,
        )
    )
