"""Rate limits (issue 7, finding 11): guessing keys, hammering reads and hammering the anonymous
success page (each hit costs a Stripe call) end in 429s with ``Retry-After``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections import Counter

import pytest


def test_bad_api_keys_from_one_address_are_refused_with_429_after_the_limit(client, merchant, rate_limits):
    rate_limits(RATELIMIT_AUTH_FAILURES="20 per minute")
    statuses = Counter(
        client.get("/api/v1/payments", headers={"Authorization": f"Bearer mk_guess_{i}"}).status_code
        for i in range(500)
    )
    print(f"500 bad keys: {dict(statuses)}")
    assert statuses == {401: 20, 429: 480}

    refused = client.get("/api/v1/payments", headers={"Authorization": "Bearer mk_guess_again"})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    error = refused.get_json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "rate_limit")
    # Another address is not affected.
    other = client.get(
        "/api/v1/payments", headers=merchant.headers, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    assert other.status_code == 200


def test_reads_are_limited_per_api_key(client, make_merchant, rate_limits):
    rate_limits(RATELIMIT_API_READS="100 per minute")
    busy, quiet = make_merchant("Busy"), make_merchant("Quiet")
    statuses = Counter(client.get("/api/v1/payments", headers=busy.headers).status_code for _ in range(500))
    print(f"500 reads with one key: {dict(statuses)}")
    assert statuses == {200: 100, 429: 400}
    assert client.get("/api/v1/payments", headers=quiet.headers).status_code == 200


def test_writes_have_their_own_limit(client, merchant, rate_limits):
    rate_limits(RATELIMIT_API_READS="2 per minute", RATELIMIT_API_WRITES="3 per minute")
    for _ in range(2):
        assert client.get("/api/v1/payments", headers=merchant.headers).status_code == 200
    assert client.get("/api/v1/payments", headers=merchant.headers).status_code == 429
    writes = [
        client.post("/api/v1/payments", headers=merchant.headers, json={}).status_code for _ in range(4)
    ]
    assert writes == [400, 400, 400, 429]


def test_anonymous_success_page_hits_are_limited_and_stripe_sees_a_bounded_number(
    client, rate_limits, counting_stripe
):
    rate_limits(RATELIMIT_SUCCESS_PAGE="10 per minute")
    statuses = Counter(
        client.get(f"/checkout/success?session_id=cs_test_guess{i}").status_code for i in range(500)
    )
    stripe_calls = counting_stripe.calls("/v1/checkout/sessions")
    print(f"500 anonymous success hits: {dict(statuses)}; Stripe calls: {stripe_calls}")
    assert statuses[429] == 490
    assert stripe_calls == 10

    page = client.get("/checkout/success?session_id=cs_test_more")
    assert page.status_code == 429
    assert page.mimetype == "text/html"
    assert int(page.headers["Retry-After"]) >= 1
    assert "Please try again in" in page.get_data(as_text=True)


def test_pay_page_is_limited_per_address(client, rate_limits):
    rate_limits(RATELIMIT_PAY_PAGE="5 per minute")
    statuses = [client.get("/pay/pay_unknown").status_code for _ in range(7)]
    assert statuses == [404] * 5 + [429] * 2
    elsewhere = client.get("/pay/pay_unknown", environ_base={"REMOTE_ADDR": "192.0.2.8"})
    assert elsewhere.status_code == 404


REDIS_PROCESS = textwrap.dedent(
    """
    import sys
    from app import create_app
    app = create_app({"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "RATELIMIT_STORAGE_URI": sys.argv[1], "RATELIMIT_KEY_PREFIX": sys.argv[2],
                      "RATELIMIT_API_READS": "10 per minute"})
    client = app.test_client()
    print(" ".join(str(client.get("/api/v1/openapi.json").status_code) for _ in range(6)))
    """
)


def _process_statuses(storage_uri: str, prefix: str) -> list[int]:
    out = subprocess.run(
        [sys.executable, "-c", REDIS_PROCESS, storage_uri, prefix],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=os.getcwd(),
    ).stdout
    return [int(status) for status in out.split()]


def test_redis_storage_counts_across_processes():
    redis = pytest.importorskip("redis")
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"test-{uuid.uuid4().hex}"
    first = _process_statuses("redis://127.0.0.1:6379/0", prefix)
    second = _process_statuses("redis://127.0.0.1:6379/0", prefix)
    assert first == [200] * 6
    assert second == [200] * 4 + [429] * 2  # the second process saw the first one's 6 requests


def test_requests_still_answer_when_redis_is_down():
    from tests.support.servers import free_port

    statuses = _process_statuses(f"redis://127.0.0.1:{free_port()}/0", "down")
    assert all(status in (200, 429) for status in statuses), statuses
    assert statuses[0] == 200
