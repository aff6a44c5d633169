"""Checkout Session API through the real stripe SDK: create, retrieve, expire, errors."""

import time

import pytest
import requests
import stripe


def test_create_and_retrieve(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=session_params())
    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.url == f"{sandbox.url}/pay/{session.id}"
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert (session.amount_total, session.amount_subtotal, session.currency) == (3000, 3000, "usd")
    assert session.payment_intent is None
    assert session.metadata.to_dict() == {"cart": "c_77"}
    assert session.client_reference_id == "order_42"
    assert session.customer_email == "ada@example.com"
    assert session.expires_at - session.created == 24 * 3600

    fetched = client.v1.checkout.sessions.retrieve(session.id)
    assert fetched.to_dict() == session.to_dict()


def test_expand_line_items(client, session_params):
    session = client.v1.checkout.sessions.create(params=session_params())
    fetched = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["line_items"]})
    names = [item.description for item in fetched.line_items.data]
    assert names == ["Tea towel", "Gift wrap"]

    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert items.object == "list" and items.has_more is False
    first = items.data[0]
    assert (first.object, first.quantity, first.amount_total) == ("item", 2, 2500)
    assert first.price.unit_amount == 1250

    page = client.v1.checkout.sessions.line_items.list(session.id, params={"limit": 1})
    assert page.has_more is True and len(page.data) == 1


def test_expire(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=session_params())
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired" and expired.url is None

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.expire(session.id)
    assert raised.value.http_status == 400
    assert "can be expired" in raised.value.user_message

    events = client.v1.events.list(params={"type": "checkout.session.expired"})
    assert [e.data.object.id for e in events.data] == [session.id]


def test_missing_params_report_param(client, session_params):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(params={"line_items": session_params()["line_items"]})
    assert raised.value.param == "mode"
    assert raised.value.code == "parameter_missing"

    params = session_params()
    del params["line_items"][1]["quantity"]
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(params=params)
    assert raised.value.param == "line_items[1][quantity]"

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(params=session_params(bogus="1"))
    assert raised.value.code == "parameter_unknown"


@pytest.mark.parametrize("offset, ok", [(29 * 60, False), (31 * 60, True), (24 * 3600 + 60, False)])
def test_expires_at_window(client, session_params, offset, ok):
    params = session_params(expires_at=int(time.time()) + offset)
    if ok:
        assert client.v1.checkout.sessions.create(params=params).expires_at == params["expires_at"]
    else:
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.checkout.sessions.create(params=params)
        assert raised.value.param == "expires_at"


def test_not_found(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"


@pytest.mark.parametrize("header", [None, "Bearer sk_live_abcdef123456", "Bearer pk_test_123"])
def test_auth_required(sandbox, header):
    headers = {"Authorization": header} if header else {}
    response = sandbox.http.get(f"{sandbox.url}/v1/events", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_sdk_raises_authentication_error(sandbox, make_client):
    with pytest.raises(stripe.AuthenticationError):
        make_client(sandbox, api_key="sk_live_nope").v1.events.list()


def test_idempotent_replay_and_mismatch(sandbox, client, session_params):
    options = {"idempotency_key": "order-42-attempt-1"}
    first = client.v1.checkout.sessions.create(params=session_params(), options=options)
    again = client.v1.checkout.sessions.create(params=session_params(), options=options)
    assert again.id == first.id
    assert len(client.v1.checkout.sessions.list().data) == 1

    with pytest.raises(stripe.IdempotencyError):
        client.v1.checkout.sessions.create(
            params=session_params(client_reference_id="other"), options=options
        )


def test_replay_is_marked(sandbox, session_params):
    headers = {"Authorization": "Bearer sk_test_x", "Idempotency-Key": "abc"}
    body = (
        "mode=payment&line_items[0][price_data][currency]=usd"
        "&line_items[0][price_data][unit_amount]=900"
        "&line_items[0][price_data][product_data][name]=Mug&line_items[0][quantity]=1"
    )
    url = f"{sandbox.url}/v1/checkout/sessions"
    first = requests.post(url, data=body, headers=headers, timeout=5)
    second = requests.post(url, data=body, headers=headers, timeout=5)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


def test_list_filtered_by_payment_intent(sandbox, client, session_params):
    paid = client.v1.checkout.sessions.create(params=session_params())
    client.v1.checkout.sessions.create(params=session_params())
    intent_id = sandbox.pay(paid.id)["session"]["payment_intent"]
    found = client.v1.checkout.sessions.list(params={"payment_intent": intent_id})
    assert [s.id for s in found.data] == [paid.id]
    assert len(client.v1.checkout.sessions.list().data) == 2


def test_unknown_route(sandbox):
    response = sandbox.http.get(f"{sandbox.url}/v1/nothing", headers={"Authorization": "Bearer sk_test_x"})
    assert response.status_code == 404
    assert "Unrecognized request URL" in response.json()["error"]["message"]
