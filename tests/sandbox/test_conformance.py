"""Every object the sandbox returns matches the typed models of the installed ``stripe`` package.

The models are read at test time (``stripe_models``), so the check follows the pinned SDK: keys,
value types and enum values of sessions, line items, PaymentIntents, charges, refunds, events (and
their ``data.object``), prices, products, customers, list objects and error objects.
"""

import typing

import pytest
import stripe
import stripe.checkout
from stripe._error_object import ErrorObject
from stripe_models import fields, model_for, problems

HEADERS = {"Authorization": "Bearer sk_test_conformance"}


def _get(sandbox, path):
    response = sandbox.http.get(f"{sandbox.url}/v1/{path}", headers=HEADERS)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def everything(sandbox, client, session_params):
    """Drive every flow (card, decline, bank debit settled and failed, refunds, expiry, customers)."""
    price = client.v1.prices.create(
        params={"product_data": {"name": "Mug"}, "currency": "usd", "unit_amount": 900, "lookup_key": "mug"}
    )
    customer = client.v1.customers.create(params={"email": "ada@example.com", "name": "Ada"})
    paid = client.v1.checkout.sessions.create(params=session_params(customer_creation="always"))
    sandbox.pay(paid.id, card_number="4000000000005126", name="Ada")
    declined = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": price.id, "quantity": 1}],
            "customer": customer.id,
        }
    )
    sandbox.pay(declined.id, card_number="4000000000000002")
    settled = client.v1.checkout.sessions.create(params=session_params())
    sandbox.pay(settled.id, payment_method="us_bank_account")
    failed = client.v1.checkout.sessions.create(params=session_params())
    sandbox.pay(failed.id, payment_method="us_bank_account", account_number="000111111116")
    processing = client.v1.checkout.sessions.create(params=session_params())
    sandbox.control("/clock/advance", seconds=11)
    sandbox.pay(processing.id, payment_method="us_bank_account")
    expired = client.v1.checkout.sessions.create(params=session_params())
    client.v1.checkout.sessions.expire(expired.id)
    client.v1.checkout.sessions.create(params=session_params())  # still open
    intent = client.v1.checkout.sessions.retrieve(paid.id).payment_intent
    client.v1.refunds.create(params={"payment_intent": intent, "amount": 100})
    sandbox.control("/clock/advance", seconds=0)  # the refund to the 5126 card fails
    settled_intent = client.v1.checkout.sessions.retrieve(settled.id).payment_intent
    client.v1.refunds.create(params={"payment_intent": settled_intent})
    return sandbox


def _all_objects(sandbox):
    """(path, model, json) for every object reachable through the API."""
    found = []

    def add(path, model, body):
        found.append((path, model, body))

    for kind, model in [
        ("checkout/sessions", stripe.checkout.Session),
        ("refunds", stripe.Refund),
        ("events", stripe.Event),
        ("prices", stripe.Price),
        ("products", stripe.Product),
    ]:
        page = _get(sandbox, f"{kind}?limit=100")
        add(kind, stripe.ListObject, page)
        for obj in page["data"]:
            add(f"{kind}/{obj['id']}", model, _get(sandbox, f"{kind}/{obj['id']}"))
    state = sandbox.state
    for session_id in list(state.sessions):
        add("line_items", stripe.ListObject, _get(sandbox, f"checkout/sessions/{session_id}/line_items"))
        expanded = _get(sandbox, f"checkout/sessions/{session_id}?expand[]=line_items&expand[]=customer")
        add("session+line_items", stripe.checkout.Session, expanded)
    for intent_id in list(state.payment_intents):
        add("payment_intent", stripe.PaymentIntent, _get(sandbox, f"payment_intents/{intent_id}"))
    for charge_id in list(state.charges):
        add("charge", stripe.Charge, _get(sandbox, f"charges/{charge_id}"))
        add("charge refunds", stripe.ListObject, _get(sandbox, f"charges/{charge_id}/refunds"))
    for customer_id in list(state.customers):
        add("customer", stripe.Customer, _get(sandbox, f"customers/{customer_id}"))
    return found


def test_every_object_matches_the_sdk_models(everything):
    objects = _all_objects(everything)
    kinds = {body.get("object") for _, _, body in objects}
    assert kinds >= {"checkout.session", "payment_intent", "charge", "refund", "event", "price", "product"}
    assert "customer" in kinds and "list" in kinds
    statuses = {(b["object"], b.get("status")) for _, _, b in objects if b["object"] != "list"}
    assert statuses >= {
        ("checkout.session", "open"),
        ("checkout.session", "complete"),
        ("checkout.session", "expired"),
        ("payment_intent", "succeeded"),
        ("payment_intent", "processing"),
        ("payment_intent", "requires_payment_method"),
        ("charge", "succeeded"),
        ("charge", "failed"),
        ("charge", "pending"),
        ("refund", "succeeded"),
        ("refund", "failed"),
    }
    errors = []
    for path, model, body in objects:
        if model is stripe.ListObject:
            errors += [f"{path}: {p}" for p in _list_problems(body)]
        else:
            errors += [f"{path} {body['id']}: {p}" for p in problems(body, model)]
    assert errors == []


def _list_problems(body):
    found = [] if set(body) == {"object", "data", "has_more", "url"} else [f"list keys {sorted(body)}"]
    for item in body["data"]:
        found += problems(item, model_for(item["object"]))
    return found


def test_every_event_type_emitted_is_checked(everything):
    events = _get(everything, "events?limit=100")["data"]
    types = {e["type"] for e in events}
    assert types >= {
        "payment_intent.created",
        "payment_intent.processing",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "charge.succeeded",
        "charge.failed",
        "charge.pending",
        "charge.updated",
        "charge.refunded",
        "charge.refund.updated",
        "checkout.session.completed",
        "checkout.session.expired",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "refund.created",
        "refund.updated",
        "refund.failed",
        "customer.created",
        "price.created",
        "product.created",
    }
    assert [p for e in events for p in problems(e, stripe.Event)] == []


ERROR_TYPES = typing.get_args(fields(stripe.PaymentIntent.LastPaymentError)["type"])


@pytest.mark.parametrize(
    "method, path, data",
    [
        ("get", "/v1/nothing", None),
        ("get", "/v1/prices/price_nope", None),
        ("get", "/v1/events?limit=1000", None),
        ("post", "/v1/checkout/sessions", {"mode": "payment"}),
        ("post", "/v1/checkout/sessions", {"mode": "subscription"}),
        ("post", "/v1/refunds", {}),
        ("post", "/v1/prices", {"currency": "usd"}),
        ("post", "/v1/customers", {"email": "nope"}),
    ],
)
def test_error_objects_match_the_sdk_model(sandbox, method, path, data):
    response = sandbox.http.request(method, f"{sandbox.url}{path}", data=data, headers=HEADERS)
    assert response.status_code >= 400
    error = response.json()["error"]
    assert problems(error, ErrorObject) == []
    assert error["type"] in typing.get_args(ERROR_TYPES[0]) + ERROR_TYPES[1:]
    assert None not in error.values()  # Stripe leaves absent fields out
