"""Events API, signed webhook delivery with retries, the disable switch and the clock."""

import json
import time

import stripe


def _paid_session(sandbox, client, params):
    session = client.v1.checkout.sessions.create(params=params)
    sandbox.pay(session.id)
    return session


def test_events_list_filters_and_pagination(sandbox, client, session_params):
    for _ in range(3):
        _paid_session(sandbox, client, session_params())
    everything = client.v1.events.list(params={"limit": 100})
    assert len(everything.data) == 15  # five events per card payment
    assert everything.has_more is False
    assert everything.url == "/v1/events"

    completed = client.v1.events.list(params={"type": "checkout.session.completed"})
    assert len(completed.data) == 3
    assert all(e.data.object.object == "checkout.session" for e in completed.data)
    assert len(client.v1.events.list(params={"type": "checkout.session.*"}).data) == 3
    both = client.v1.events.list(params={"types": ["payment_intent.succeeded", "checkout.session.completed"]})
    assert len(both.data) == 6

    first = client.v1.events.list(params={"limit": 4})
    assert first.has_more is True and len(first.data) == 4
    rest = client.v1.events.list(params={"limit": 11, "starting_after": first.data[-1].id})
    assert rest.has_more is False and len(rest.data) == 11
    assert [e.id for e in first.data + rest.data] == [e.id for e in everything.data]

    now = sandbox.state.now()
    assert len(client.v1.events.list(params={"created": {"gte": now - 60}, "limit": 100}).data) == 15
    assert client.v1.events.list(params={"created": {"gt": now + 1}}).data == []

    one = client.v1.events.retrieve(everything.data[0].id)
    assert one.object == "event" and one.livemode is False
    assert one.request.idempotency_key is None  # caused by the shopper, not an API call


def test_api_caused_events_record_request(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=session_params())
    client.v1.checkout.sessions.expire(session.id, options={"idempotency_key": "exp-1"})
    event = client.v1.events.list().data[0]
    assert event.type == "checkout.session.expired"
    assert event.request.idempotency_key == "exp-1"
    assert event.request.id.startswith("req_")


def test_webhooks_are_signed_and_verifiable(
    sandbox_factory, make_client, receiver, session_params, webhook_secret
):
    sandbox = sandbox_factory(webhook_urls=[receiver.url])
    client = make_client(sandbox)
    _paid_session(sandbox, client, session_params())
    received = receiver.wait_for(lambda r: len(r) == 5)
    types = []
    for delivery in received:
        event = stripe.Webhook.construct_event(
            delivery.body, delivery.headers["stripe-signature"], webhook_secret
        )
        types.append(event.type)
    assert types == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
        "charge.updated",
    ]
    assert sandbox.control("/deliveries/flush")["empty"] is True
    stored = client.v1.events.list().data
    assert all(e.pending_webhooks == 0 for e in stored)


def test_failed_delivery_is_retried(sandbox_factory, make_client, receiver, session_params):
    receiver.replies = [500]
    sandbox = sandbox_factory(webhook_urls=[receiver.url])
    client = make_client(sandbox)
    session = client.v1.checkout.sessions.create(params=session_params())
    client.v1.checkout.sessions.expire(session.id)
    received = receiver.wait_for(lambda r: len(r) == 2, timeout=5)
    assert [r.status for r in received] == [500, 200]
    assert received[0].body == received[1].body
    assert json.loads(received[1].body)["type"] == "checkout.session.expired"


def test_disabled_webhooks_are_dropped(sandbox_factory, make_client, receiver, session_params):
    sandbox = sandbox_factory(webhook_urls=[receiver.url])
    client = make_client(sandbox)
    sandbox.control("/webhooks/disable")
    lost = client.v1.checkout.sessions.create(params=session_params())
    client.v1.checkout.sessions.expire(lost.id)
    sandbox.control("/webhooks/enable")
    kept = client.v1.checkout.sessions.create(params=session_params())
    client.v1.checkout.sessions.expire(kept.id)
    assert sandbox.control("/deliveries/flush")["empty"] is True
    time.sleep(0.2)
    delivered = [e["data"]["object"]["id"] for e in receiver.events()]
    assert delivered == [kept.id]
    # Both events are still recorded.
    assert len(client.v1.events.list(params={"type": "checkout.session.expired"}).data) == 2


def test_endpoint_added_at_run_time(sandbox, client, receiver, session_params):
    sandbox.control("/webhooks/endpoints", url=receiver.url)
    session = client.v1.checkout.sessions.create(params=session_params())
    client.v1.checkout.sessions.expire(session.id)
    receiver.wait_for(lambda r: len(r) == 1)


def test_clock_advance_expires_sessions(sandbox, client, session_params):
    session = client.v1.checkout.sessions.create(params=session_params(expires_at=sandbox.state.now() + 3600))
    before = sandbox.state.now()
    assert sandbox.control("/clock/advance", seconds=1800)["now"] >= before + 1800
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    sandbox.control("/clock/advance", seconds=1801)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    event = client.v1.events.list(params={"type": "checkout.session.expired"}).data[0]
    assert event.data.object.id == session.id
    assert event.created >= before + 3600
    page = sandbox.http.get(f"{sandbox.url}/pay/{session.id}")
    assert "This checkout session has expired" in page.text


def test_health(sandbox):
    assert sandbox.http.get(f"{sandbox.url}/_sandbox/health").json() == {"ok": True}
