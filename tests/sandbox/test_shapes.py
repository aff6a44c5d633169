"""Objects the sandbox returns have the keys, nesting and value types of Stripe's fixtures.

``fixtures/`` holds Stripe's published example objects (stripe/openapi fixtures3.json).
Null is accepted for any value (Stripe's nullable fields); otherwise types must match.
Metadata (free-form keys) and event ``data.object`` (a plan in the fixture) are not compared.
"""

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
# Documented deviations: fields Stripe adds that the fixtures do not show.
EXTRA_KEYS = {
    ("payment_intent", "last_payment_error"): {"code", "decline_code", "message"},
    ("refund", ""): {"failure_reason", "failure_balance_transaction"},
}


def fixture(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def assert_shape(ours, theirs, kind, path=""):
    """Recursively compare key sets and value types (null matches anything)."""
    if ours is None or theirs is None:
        return
    assert type(ours) is type(theirs), f"{kind}{path}: {type(ours).__name__} != {type(theirs).__name__}"
    if isinstance(ours, dict):
        allowed = EXTRA_KEYS.get((kind, path.strip(".")), set())
        assert set(theirs) - set(ours) == set(), f"{kind}{path}: missing {set(theirs) - set(ours)}"
        assert set(ours) - set(theirs) <= allowed, f"{kind}{path}: extra {set(ours) - set(theirs)}"
        for key in theirs:
            if key == "metadata":  # free-form keys
                continue
            assert_shape(ours[key], theirs[key], kind, f"{path}.{key}")
    elif isinstance(ours, list) and ours and theirs:
        assert_shape(ours[0], theirs[0], kind, f"{path}[0]")


def _get(sandbox, path):
    response = sandbox.http.get(f"{sandbox.url}/v1/{path}", headers={"Authorization": "Bearer sk_test_x"})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def objects(sandbox, client, session_params):
    """Raw JSON of every object type in several states."""
    declined = client.v1.checkout.sessions.create(params=session_params())
    declined_pi = sandbox.pay(declined.id, card_number="4000000000000002")["session"]["payment_intent"]
    paid = client.v1.checkout.sessions.create(params=session_params())
    paid_pi = sandbox.pay(paid.id, card_number="4000000000005126")["session"]["payment_intent"]
    open_session = client.v1.checkout.sessions.create(params=session_params())
    refund = client.v1.refunds.create(params={"payment_intent": paid_pi, "amount": 100})
    charge_id = client.v1.payment_intents.retrieve(paid_pi).latest_charge
    sandbox.control("/clock/advance", seconds=0)
    return {
        "checkout_session": [
            _get(sandbox, f"checkout/sessions/{sid}") for sid in (open_session.id, paid.id, declined.id)
        ],
        "payment_intent": [_get(sandbox, f"payment_intents/{pi}") for pi in (paid_pi, declined_pi)],
        "charge": [_get(sandbox, f"charges/{charge_id}")],
        "refund": [_get(sandbox, f"refunds/{refund.id}")],
        "event": _get(sandbox, "events")["data"],
    }


@pytest.mark.parametrize("kind", ["checkout_session", "payment_intent", "charge", "refund", "event"])
def test_objects_match_fixture_shapes(objects, kind):
    theirs = fixture(kind)
    for ours in objects[kind]:
        if kind == "event":
            ours = dict(ours, data={"object": None})
            theirs = dict(theirs, data={"object": None})
        assert_shape(ours, theirs, kind)


def test_failed_refund_and_decline_extras(objects):
    assert objects["refund"][0]["failure_reason"] == "expired_or_canceled_card"
    assert objects["payment_intent"][1]["last_payment_error"]["decline_code"] == "generic_decline"
