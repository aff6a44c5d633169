"""API keys through the API and the CLI: created with the secret shown once, listed by prefix,
revoked or rolled (the old key working until its expiry), a 401 at once when revoked or expired,
stored only hashed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.merchants import hash_api_key
from app.models import ApiKey, IdempotencyKey, utcnow


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def works(client, key: str) -> bool:
    status = client.get("/api/v1/payments", headers=bearer(key)).status_code
    assert status in (200, 401)
    return status == 200


def test_a_created_key_is_shown_once_and_stored_only_hashed(app, client, merchant):
    response = client.post("/api/v1/api_keys", headers=merchant.headers)
    assert response.status_code == 201
    created = response.get_json()
    assert created["object"] == "api_key" and created["id"].startswith("key_")
    assert created["secret"].startswith("mk_") and created["prefix"] == created["secret"][:12]
    assert created["status"] == "active" and works(client, created["secret"])
    shown = client.get(f"/api/v1/api_keys/{created['id']}", headers=merchant.headers).get_json()
    assert "secret" not in shown and shown["prefix"] == created["prefix"]
    with app.app_context():
        hashes = db.session.scalars(sa.select(ApiKey.key_hash)).all()
        assert hash_api_key(created["secret"]) in hashes and created["secret"] not in hashes


def test_an_idempotent_replay_of_a_create_never_shows_the_secret_again(app, client, merchant):
    headers = {**merchant.headers, "Idempotency-Key": "new-key"}
    first = client.post("/api/v1/api_keys", headers=headers).get_json()
    replay = client.post("/api/v1/api_keys", headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == {**first, "secret": None}
    with app.app_context():
        stored = db.session.scalars(sa.select(IdempotencyKey.response_body)).all()
        assert stored and not any(first["secret"] in body for body in stored)


def test_the_list_shows_prefixes_and_last_use_newest_first(client, merchant):
    new = client.post("/api/v1/api_keys", headers=merchant.headers).get_json()
    assert works(client, new["secret"])
    listed = client.get("/api/v1/api_keys", headers=merchant.headers).get_json()
    assert listed["url"] == "/api/v1/api_keys" and len(listed["data"]) == 2
    assert listed["data"][0]["id"] == new["id"] and listed["data"][0]["last_used_at"] is not None
    assert all("secret" not in key for key in listed["data"])
    assert listed["data"][1]["prefix"] == merchant.api_key[:12]
    older = client.get(f"/api/v1/api_keys?starting_after={new['id']}", headers=merchant.headers).get_json()
    assert [k["prefix"] for k in older["data"]] == [merchant.api_key[:12]]


def test_a_revoked_key_is_a_401_at_once(client, merchant):
    new = client.post("/api/v1/api_keys", headers=merchant.headers).get_json()
    revoked = client.post(f"/api/v1/api_keys/{new['id']}/revoke", headers=merchant.headers)
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    assert not works(client, new["secret"])
    error = client.get("/api/v1/payments", headers=bearer(new["secret"])).get_json()["error"]
    assert error["code"] == "invalid_api_key"
    assert works(client, merchant.api_key)


def test_a_rolled_key_works_until_its_expiry_then_is_a_401(app, client, merchant):
    old_id = client.get("/api/v1/api_keys", headers=merchant.headers).get_json()["data"][0]["id"]
    response = client.post(
        f"/api/v1/api_keys/{old_id}/roll", json={"expires_in": 3600}, headers=merchant.headers
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    rolled = response.get_json()
    assert rolled["id"] != old_id and rolled["secret"].startswith("mk_")
    assert works(client, rolled["secret"]) and works(client, merchant.api_key)
    old = client.get(f"/api/v1/api_keys/{old_id}", headers=bearer(rolled["secret"])).get_json()
    assert old["status"] == "expiring" and old["expires_at"] is not None
    with app.app_context():  # an hour later
        key = db.session.get(ApiKey, int(old_id.removeprefix("key_")))
        key.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert not works(client, merchant.api_key) and works(client, rolled["secret"])
    again = client.post(f"/api/v1/api_keys/{old_id}/roll", headers=bearer(rolled["secret"]))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "api_key_inactive"


def test_rolling_with_no_expiry_stops_the_old_key_now(client, merchant):
    old_id = client.get("/api/v1/api_keys", headers=merchant.headers).get_json()["data"][0]["id"]
    rolled = client.post(f"/api/v1/api_keys/{old_id}/roll", headers=merchant.headers).get_json()
    assert not works(client, merchant.api_key) and works(client, rolled["secret"])


def test_a_roll_that_fails_midway_changes_nothing_and_its_retry_rolls_once(client, merchant, monkeypatch):
    # The roll marks the old key expiring, then adds the new one; adding fails once here.
    from app import merchants

    real_create, calls = merchants.create_api_key, []

    def create_failing_once(merchant_id: str, **mode):
        calls.append(merchant_id)
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return real_create(merchant_id, **mode)

    monkeypatch.setattr(merchants, "create_api_key", create_failing_once)
    old_id = client.get("/api/v1/api_keys", headers=merchant.headers).get_json()["data"][0]["id"]
    headers = {**merchant.headers, "Idempotency-Key": "roll-1"}
    failed = client.post(f"/api/v1/api_keys/{old_id}/roll", json={"expires_in": 600}, headers=headers)
    assert failed.status_code == 500
    old = client.get(f"/api/v1/api_keys/{old_id}", headers=merchant.headers).get_json()
    assert old["status"] == "active" and old["expires_at"] is None  # the half-done roll left nothing
    assert len(client.get("/api/v1/api_keys", headers=merchant.headers).get_json()["data"]) == 1

    retried = client.post(f"/api/v1/api_keys/{old_id}/roll", json={"expires_in": 600}, headers=headers)
    assert retried.status_code == 201 and works(client, retried.get_json()["secret"])
    keys = client.get("/api/v1/api_keys", headers=merchant.headers).get_json()["data"]
    assert [key["status"] for key in keys] == ["active", "expiring"]


def test_bad_roll_bodies_and_foreign_keys(client, merchant, make_merchant):
    old_id = client.get("/api/v1/api_keys", headers=merchant.headers).get_json()["data"][0]["id"]
    bad = [
        ({"expires_in": -1}, "parameter_invalid"),
        ({"expires_in": 8 * 86400}, "parameter_invalid"),
        ({"expires_in": "1h"}, "parameter_invalid"),
        ({"expire": 5}, "parameter_unknown"),
    ]
    for body, code in bad:
        response = client.post(f"/api/v1/api_keys/{old_id}/roll", json=body, headers=merchant.headers)
        assert response.status_code == 400 and response.get_json()["error"]["code"] == code
    assert works(client, merchant.api_key)
    other = make_merchant("Other")
    for path in (f"/api/v1/api_keys/{old_id}", "/api/v1/api_keys/key_999999", "/api/v1/api_keys/nope"):
        assert client.get(path, headers=other.headers).status_code == 404
    assert client.post(f"/api/v1/api_keys/{old_id}/revoke", headers=other.headers).status_code == 404
    assert client.post(f"/api/v1/api_keys/{old_id}/roll", headers=other.headers).status_code == 404
    assert works(client, merchant.api_key)


def test_the_cli_creates_lists_rolls_and_revokes_keys(app, client, merchant):
    runner = app.test_cli_runner()

    def run(*args):
        result = runner.invoke(args=["merchants", "keys", *args])
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.output.splitlines()]

    (created,) = run("create", merchant.id)
    assert created["object"] == "api_key" and works(client, created["secret"])
    listed = run("list", merchant.id)
    assert [k["id"] for k in listed][0] == created["id"] and all("secret" not in k for k in listed)
    (rolled,) = run("roll", merchant.id, created["id"], "--expires-in", "600")
    assert works(client, created["secret"]) and works(client, rolled["secret"])
    (revoked,) = run("revoke", merchant.id, created["id"])
    assert revoked["status"] == "revoked" and not works(client, created["secret"])
    unknown = runner.invoke(args=["merchants", "keys", "revoke", merchant.id, "key_0"])
    assert unknown.exit_code != 0 and "No such API key" in unknown.output
    assert runner.invoke(args=["merchants", "keys", "list", "mer_nope"]).exit_code != 0


@pytest.mark.parametrize("key_id", ["key_4000000000009979", "4000000000009979", "key_99999999999999999999"])
def test_a_key_id_beyond_the_column_is_404_not_500(client, merchant, key_id):
    """PostgreSQL refuses to compare a number beyond INTEGER with the id column (found by the
    OpenAPI fuzz run on PostgreSQL): such an id names no key, on every database."""
    answer = client.get(f"/api/v1/api_keys/{key_id}", headers=merchant.headers)
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "resource_missing"
    listed = client.get(f"/api/v1/api_keys?starting_after={key_id}", headers=merchant.headers)
    assert listed.status_code == 400 and listed.get_json()["error"]["param"] == "starting_after"
