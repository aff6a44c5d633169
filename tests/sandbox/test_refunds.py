"""Refunds API: full, partial, over-refund errors and the failing-refund test card."""

import pytest
import stripe


@pytest.fixture
def paid(sandbox, client, session_params):
    """Pay a $30.00 session; returns a function taking the card number."""

    def pay(card_number="4242424242424242"):
        session = client.v1.checkout.sessions.create(params=session_params())
        result = sandbox.pay(session.id, card_number=card_number)
        assert result["error"] is None
        return client.v1.payment_intents.retrieve(result["session"]["payment_intent"])

    return pay


def test_full_refund(client, paid):
    intent = paid()
    refund = client.v1.refunds.create(
        params={
            "payment_intent": intent.id,
            "reason": "requested_by_customer",
            "metadata": {"ticket": "T-1"},
        },
        options={"idempotency_key": "refund-1"},
    )
    assert refund.id.startswith("re_") and refund.status == "succeeded"
    assert (refund.amount, refund.charge, refund.payment_intent) == (3000, intent.latest_charge, intent.id)
    assert refund.metadata.to_dict() == {"ticket": "T-1"}

    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (3000, True)
    assert [r.id for r in charge.refunds.data] == [refund.id]
    assert client.v1.refunds.retrieve(refund.id).to_dict() == refund.to_dict()
    types = [e.type for e in client.v1.events.list().data]
    assert types[:2] == ["charge.refunded", "refund.created"]

    replay = client.v1.refunds.create(
        params={
            "payment_intent": intent.id,
            "reason": "requested_by_customer",
            "metadata": {"ticket": "T-1"},
        },
        options={"idempotency_key": "refund-1"},
    )
    assert replay.id == refund.id
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create(params={"payment_intent": intent.id})
    assert raised.value.code == "charge_already_refunded"


def test_partial_refunds_and_over_refund(client, paid):
    intent = paid()
    first = client.v1.refunds.create(params={"charge": intent.latest_charge, "amount": 1000})
    second = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 500})
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (1500, False)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1501})
    assert raised.value.code == "amount_too_large"
    assert raised.value.param == "amount"
    assert "$15.00" in raised.value.user_message

    listed = client.v1.refunds.list(params={"payment_intent": intent.id})
    assert [r.id for r in listed.data] == [second.id, first.id]
    assert client.v1.refunds.list(params={"charge": "ch_other"}).data == []
    rest = client.v1.refunds.create(params={"payment_intent": intent.id})
    assert rest.amount == 1500


def test_refund_requires_succeeded_payment(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=session_params())
    intent_id = sandbox.pay(session.id, card_number="4000000000000002")["session"]["payment_intent"]
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create(params={"payment_intent": intent_id})
    assert raised.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={})
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create(params={"charge": "ch_missing"})
    assert raised.value.code == "resource_missing"


def test_refund_to_failing_card(sandbox, client, paid):
    intent = paid("4000 0000 0000 5126")
    refund = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1200})
    assert refund.status == "succeeded"
    sandbox.control("/clock/advance", seconds=0)

    refund = client.v1.refunds.retrieve(refund.id)
    assert refund.status == "failed"
    assert refund.failure_reason == "expired_or_canceled_card"
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (0, False)
    types = [e.type for e in client.v1.events.list().data]
    assert types[:5] == [
        "refund.failed",
        "charge.refund.updated",
        "refund.updated",
        "charge.refunded",
        "refund.created",
    ]
