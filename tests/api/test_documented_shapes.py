"""The new conventions' responses match the OpenAPI document's schemas."""

from __future__ import annotations

from tests.api.test_openapi import assert_matches, spec  # noqa: F401  (spec is a fixture)
from tests.helpers import payment_body
from tests.payments.conftest import shop, stripe_client  # noqa: F401  (fixtures)


def test_api_keys_updates_lists_and_errors_match_the_document(client, merchant, sandbox_ctl, spec):  # noqa: F811
    created = client.post("/api/v1/api_keys", headers=merchant.headers).get_json()
    assert_matches(spec, "ApiKeyWithSecret", created)
    assert_matches(spec, "ListApiKeys", client.get("/api/v1/api_keys", headers=merchant.headers).get_json())
    rolled = client.post(
        f"/api/v1/api_keys/{created['id']}/roll", json={"expires_in": 60}, headers=merchant.headers
    )
    assert_matches(spec, "ApiKeyWithSecret", rolled.get_json())
    revoked = client.post(f"/api/v1/api_keys/{created['id']}/revoke", headers=merchant.headers)
    assert_matches(spec, "ApiKey", revoked.get_json())

    payment = client.post("/api/v1/payments", json=payment_body(), headers=merchant.headers).get_json()
    updated = client.post(
        f"/api/v1/payments/{payment['id']}", json={"metadata": {"a": "b"}}, headers=merchant.headers
    )
    assert_matches(spec, "Payment", updated.get_json())
    timeline = client.get(f"/api/v1/payments/{payment['id']}/events?limit=1", headers=merchant.headers)
    assert_matches(spec, "ListTimelineEntries", timeline.get_json())

    code = client.get("/api/v1/errors/parameter_unknown").get_json()
    assert_matches(spec, "ErrorCode", code)
    for response in (
        client.get("/api/v1/payments?stauts=open", headers=merchant.headers),
        client.get("/api/v1/nowhere", headers=merchant.headers),
        client.put("/api/v1/payments", headers=merchant.headers),
    ):
        assert_matches(spec, "Error", response.get_json())


def test_events_match_the_document(spec, shop):  # noqa: F811
    shop.paid()
    listed = shop.client.get("/api/v1/events", headers=shop.merchant.headers).get_json()
    assert listed["data"]
    assert_matches(spec, "ListEvents", listed)
