"""Faults on demand, through the real ``stripe`` SDK: errors, rate limits, resets, hangs, lost answers,
webhook drops/duplicates/reorders/delays, the decline rate and Stripe's webhook retry schedule."""

import json
import time

import pytest
import requests
import stripe

from sandbox.faults import Fault, FaultError


def add_fault(sandbox, **spec):
    response = sandbox.http.post(f"{sandbox.url}/_sandbox/faults", json=spec, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def _sessions(sandbox):
    return list(sandbox.state.sessions)


def test_status_500_is_stripes_api_error_and_does_nothing(sandbox, client, session_params):
    add_fault(sandbox, path="/v1/checkout/sessions", method="POST", status=500)
    with pytest.raises(stripe.APIError) as raised:
        client.v1.checkout.sessions.create(params=session_params())
    assert raised.value.http_status == 500 and raised.value.error.type == "api_error"
    assert raised.value.request_id.startswith("req_")
    assert _sessions(sandbox) == []
    client.v1.events.list()  # other paths and methods are untouched
    listed = sandbox.http.get(f"{sandbox.url}/_sandbox/faults").json()["faults"]
    assert [(f["status"], f["fired"]) for f in listed] == [(500, 1)]
    sandbox.http.delete(f"{sandbox.url}/_sandbox/faults")
    assert client.v1.checkout.sessions.create(params=session_params()).status == "open"


def test_status_429_is_stripes_rate_limit(sandbox, client, session_params):
    add_fault(sandbox, path="/v1/checkout/sessions*", status=429, times=1)
    with pytest.raises(stripe.RateLimitError) as raised:
        client.v1.checkout.sessions.create(params=session_params())
    assert raised.value.http_status == 429
    assert raised.value.headers["Stripe-Rate-Limited-Reason"] == "global-rate"
    assert _sessions(sandbox) == []
    assert client.v1.checkout.sessions.create(params=session_params()).status == "open"  # times=1


def test_latency_fixed_and_range(sandbox, client):
    add_fault(sandbox, path="/v1/events", latency=0.3)
    started = time.monotonic()
    client.v1.events.list()
    assert time.monotonic() - started >= 0.3


def test_seeded_faults_repeat_their_choices():
    def draws(seed):
        fault = Fault({"latency": [0.0, 2.0], "rate": 0.5, "seed": seed})
        return [fault.toss() for _ in range(20)], [fault.seconds() for _ in range(5)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    fired, _ = draws(7)
    assert 0 < sum(fired) < 20


@pytest.mark.parametrize(
    "spec, field",
    [
        ({"status": 404}, "status"),
        ({"latency": [2, 1]}, "latency"),
        ({"rate": 2, "reset": True}, "rate"),
        ({"reset": True, "status": 500}, "exactly one"),
        ({"webhook": "explode"}, "webhook"),
        ({"reset": True, "colour": "red"}, "colour"),
    ],
)
def test_bad_faults_are_refused_with_the_field(sandbox, spec, field):
    with pytest.raises(FaultError, match=field):
        Fault(spec)
    response = sandbox.http.post(f"{sandbox.url}/_sandbox/faults", json=spec, timeout=10)
    assert response.status_code == 400 and field in response.json()["error"]["message"]
    assert sandbox.http.get(f"{sandbox.url}/_sandbox/faults").json()["faults"] == []


def test_reset_before_the_answer(sandbox, client, session_params):
    add_fault(sandbox, path="/v1/checkout/sessions", reset=True)
    with pytest.raises(stripe.APIConnectionError):
        client.v1.checkout.sessions.create(params=session_params())
    assert _sessions(sandbox) == []


def test_hang_past_the_client_timeout(sandbox, session_params):
    add_fault(sandbox, path="/v1/checkout/sessions", hang=1.5)
    http_client = stripe.RequestsClient(timeout=0.3)
    impatient = stripe.StripeClient(
        "sk_test_x", base_addresses={"api": sandbox.url}, http_client=http_client, max_network_retries=0
    )
    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.checkout.sessions.create(params=session_params())
    assert time.monotonic() - started < 1.5
    http_client.close()


def test_lost_answer_creates_the_object_and_the_idempotency_key_finds_it(
    sandbox, make_client, session_params
):
    add_fault(sandbox, path="/v1/checkout/sessions", method="POST", lose_answer=True, times=1)
    bare = make_client(sandbox)
    with pytest.raises(stripe.APIConnectionError):
        bare.v1.checkout.sessions.create(params=session_params())
    assert len(_sessions(sandbox)) == 1  # created, although the client never heard of it

    add_fault(sandbox, path="/v1/checkout/sessions", method="POST", lose_answer=True, times=1)
    http_client = stripe.RequestsClient()
    retrying = stripe.StripeClient(
        "sk_test_x", base_addresses={"api": sandbox.url}, http_client=http_client, max_network_retries=2
    )
    session = retrying.v1.checkout.sessions.create(
        params=session_params(), options={"idempotency_key": "order-9"}
    )
    http_client.close()
    assert len(_sessions(sandbox)) == 2  # the retry replayed the lost answer instead of creating another
    assert session.id == _sessions(sandbox)[1]


def test_decline_rate(sandbox, client, session_params):
    assert sandbox.control("/decline_rate", rate=1)["decline_rate"] == 1.0
    session = client.v1.checkout.sessions.create(params=session_params())
    result = sandbox.pay(session.id)
    assert (result["error"]["code"], result["error"]["decline_code"]) == ("card_declined", "generic_decline")
    page = sandbox.http.post(
        f"{sandbox.url}/pay/{session.id}",
        data={"email": "a@b.co", "card_number": "4242424242424242", "exp": "12/34", "cvc": "123"},
    )
    assert "Your card was declined." in page.text  # the hosted page too
    sandbox.control("/decline_rate", rate=0)
    assert sandbox.pay(session.id)["error"] is None


def test_decline_rate_is_repeatable_with_a_seed(sandbox_factory, make_client, session_params):
    def outcomes():
        box = sandbox_factory(seed=3, decline_rate=0.5)
        client = make_client(box)
        return [
            box.pay(client.v1.checkout.sessions.create(params=session_params()).id)["error"] is None
            for _ in range(8)
        ]

    first = outcomes()
    assert first == outcomes() and 0 < sum(first) < 8


def _types(receiver):
    return [json.loads(r.body)["type"] for r in receiver.received]


def _card_payment(box, client, session_params):
    box.pay(client.v1.checkout.sessions.create(params=session_params()).id)


def test_webhook_drop_and_duplicate(sandbox_factory, make_client, receiver, session_params):
    box = sandbox_factory(
        webhook_urls=[receiver.url],
        faults=[
            {"webhook": "drop", "event": "charge.*"},
            {"webhook": "duplicate", "event": "checkout.session.*"},
        ],
    )
    _card_payment(box, make_client(box), session_params)
    assert box.control("/deliveries/flush")["empty"] is True
    assert sorted(_types(receiver)) == sorted(
        [
            "payment_intent.created",
            "payment_intent.succeeded",
            "checkout.session.completed",
            "checkout.session.completed",
        ]
    )
    completed = [r.body for r in receiver.received if "checkout.session.completed" in r.body]
    assert completed[0] == completed[1]  # the same event (same id) twice


def test_webhook_reorder_and_delay(sandbox_factory, make_client, receiver, session_params):
    box = sandbox_factory(
        webhook_urls=[receiver.url],
        faults=[{"webhook": "reorder", "event": "payment_intent.created", "window": 0.5, "seed": 1}],
    )
    _card_payment(box, make_client(box), session_params)
    receiver.wait_for(lambda r: len(r) == 5)
    assert _types(receiver)[-1] == "payment_intent.created"  # emitted first, delivered last

    box.http.delete(f"{box.url}/_sandbox/faults")
    add_fault(box, webhook="delay", delay=0.5, event="checkout.session.expired")
    session = make_client(box).v1.checkout.sessions.create(params=session_params())
    make_client(box).v1.checkout.sessions.expire(session.id)
    time.sleep(0.2)
    assert "checkout.session.expired" not in _types(receiver)
    receiver.wait_for(lambda r: len(r) == 6, timeout=5)


def test_webhook_retries_follow_the_schedule_on_the_sandbox_clock(
    sandbox_factory, make_client, receiver, session_params
):
    receiver.replies = [500, 500, 500, 500]
    box = sandbox_factory(webhook_urls=[receiver.url], webhook_retry_delays=(600.0, 3600.0, 10800.0))
    client = make_client(box)
    assert box.http.get(f"{box.url}/_sandbox/settings").json()["webhook_retry_delays"] == [
        600.0,
        3600.0,
        10800.0,
    ]
    client.v1.checkout.sessions.expire(client.v1.checkout.sessions.create(params=session_params()).id)
    receiver.wait_for(lambda r: len(r) == 1)
    time.sleep(0.3)
    assert len(receiver.received) == 1  # the first retry is ten sandbox minutes away
    for seconds, attempts in ((600, 2), (3600, 3), (10800, 4)):
        box.control("/clock/advance", seconds=seconds)
        receiver.wait_for(lambda r, n=attempts: len(r) == n)
    box.control("/clock/advance", seconds=86400)
    time.sleep(0.3)
    assert len(receiver.received) == 4  # three retries, then Stripe's sandbox gives up
    assert box.state.webhooks.abandoned == 1


def test_slow_endpoint(sandbox):
    started = time.monotonic()
    response = requests.post(f"{sandbox.url}/_sandbox/slow_endpoint?delay=0.3&status=503", timeout=5)
    assert response.status_code == 503 and time.monotonic() - started >= 0.3
