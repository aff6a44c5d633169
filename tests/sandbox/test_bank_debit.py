"""US bank account (ACH) debits that settle after the settle delay on the sandbox clock."""

import time

import pytest


def _bank_pay(sandbox, client, params, account_number):
    session = client.v1.checkout.sessions.create(params=params)
    result = sandbox.pay(
        session.id, payment_method="us_bank_account", account_number=account_number, email="ada@example.com"
    )
    assert result["error"] is None
    return result["session"]


def test_bank_debit_settles(sandbox, client, session_params):
    session = _bank_pay(sandbox, client, session_params(), "000123456789")
    assert (session["status"], session["payment_status"]) == ("complete", "unpaid")
    intent = client.v1.payment_intents.retrieve(session["payment_intent"])
    assert intent.status == "processing"
    completed = client.v1.events.list(params={"type": "checkout.session.completed"}).data[0]
    assert completed.data.object.payment_status == "unpaid"

    sandbox.control("/clock/advance", seconds=5)
    assert client.v1.payment_intents.retrieve(intent.id).status == "processing"
    sandbox.control("/clock/advance", seconds=5)

    intent = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    assert intent.status == "succeeded"
    assert intent.latest_charge.paid is True
    assert intent.latest_charge.payment_method_details.type == "us_bank_account"
    assert client.v1.checkout.sessions.retrieve(session["id"]).payment_status == "paid"
    types = [e.type for e in client.v1.events.list().data]
    assert types[:4] == [
        "charge.updated",
        "checkout.session.async_payment_succeeded",
        "payment_intent.succeeded",
        "charge.succeeded",
    ]


@pytest.mark.parametrize(
    "account_number, code", [("000111111116", "no_account"), ("000222222227", "insufficient_funds")]
)
def test_bank_debit_fails(sandbox, client, session_params, account_number, code):
    session = _bank_pay(sandbox, client, session_params(), account_number)
    sandbox.control("/clock/advance", seconds=10)
    intent = client.v1.payment_intents.retrieve(session["payment_intent"])
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == code
    fetched = client.v1.checkout.sessions.retrieve(session["id"])
    assert (fetched.status, fetched.payment_status) == ("complete", "unpaid")
    types = [e.type for e in client.v1.events.list().data]
    assert types[:3] == [
        "checkout.session.async_payment_failed",
        "payment_intent.payment_failed",
        "charge.failed",
    ]


def test_settles_in_real_time_too(sandbox_factory, make_client, session_params):
    sandbox = sandbox_factory(settle_delay=0)
    client = make_client(sandbox)
    session = _bank_pay(sandbox, client, session_params(), "000123456789")
    for _ in range(40):
        if client.v1.payment_intents.retrieve(session["payment_intent"]).status == "succeeded":
            break
        time.sleep(0.1)
    assert client.v1.payment_intents.retrieve(session["payment_intent"]).status == "succeeded"


def test_hosted_bank_form(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=session_params())
    html = sandbox.http.get(session.url).text
    for label in ("Routing number", "Account number", "US bank account"):
        assert f">{label}</label>" in html
    assert "Pay with bank account" in html
    form = {
        "email": "ada@example.com",
        "method": "us_bank_account",
        "routing_number": "110000000",
        "account_number": "000123456789",
    }
    response = sandbox.http.post(session.url, data=form, allow_redirects=False)
    assert response.status_code == 303
    assert client.v1.checkout.sessions.retrieve(session.id).status == "complete"


def test_bank_not_offered_when_not_allowed(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=session_params(payment_method_types=["card"]))
    assert "Routing number" not in sandbox.http.get(session.url).text
    result = sandbox.pay(session.id, payment_method="us_bank_account")
    assert result["error"] is not None and result["session"]["status"] == "open"
