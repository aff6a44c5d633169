"""Structured logs: request ids, the ids a request touched, the Stripe SDK quiet, and no secret,
card number or Checkout Session id in the logs of a full run."""

from __future__ import annotations

import logging

from app.observability.logs import redact
from tests.helpers import payment_body


def test_a_sane_request_id_is_kept_and_returned(client):
    response = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a:42"})
    assert response.headers["Request-Id"] == "lb-7f3a:42"


def test_an_insane_request_id_is_replaced(client):
    response = client.get("/healthz", headers={"X-Request-Id": "x" * 300})
    assert len(response.headers["Request-Id"]) == 32 and response.headers["Request-Id"] != "x" * 32
    generated = client.get("/healthz").headers["Request-Id"]
    assert generated != response.headers["Request-Id"]


def test_every_line_of_an_api_request_carries_its_ids(client, merchant, sandbox_ctl, json_logs):
    created = client.post(
        "/api/v1/payments", json=payment_body(), headers={**merchant.headers, "X-Request-Id": "req-create-1"}
    )
    assert created.status_code == 201
    json_logs.lines.clear()
    payment_id = created.json["id"]
    response = client.post(
        f"/api/v1/payments/{payment_id}/expire", headers={**merchant.headers, "X-Request-Id": "req-expire-1"}
    )
    assert response.status_code == 200
    lines = [r for r in json_logs.records() if r.get("request_id") == "req-expire-1"]
    finished = [r for r in lines if r["event"] == "request"]
    assert finished and finished[0]["status"] == 200 and finished[0]["path"].endswith("/expire")
    assert all(r["merchant_id"] == merchant.id and r["payment_id"] == payment_id for r in lines)


def test_the_stripe_sdk_is_quiet_at_the_default_level(client, merchant, sandbox_ctl, json_logs):
    assert client.post("/api/v1/payments", json=payment_body(), headers=merchant.headers).status_code == 201
    assert not [r for r in json_logs.records() if r["logger"].startswith("stripe")]
    assert logging.getLogger("stripe").getEffectiveLevel() == logging.WARNING


def test_a_full_run_logs_no_secret_card_number_or_session_id(full_flow, json_logs):
    run = full_flow()
    text = "\n".join(json_logs.lines)
    assert '"event": "request"' in text and run.payment_id in text  # the capture saw the run
    assert run.api_key not in text
    assert run.endpoint_secret not in text and "whsec_" not in text
    assert "4242424242424242" not in text.replace(" ", "")  # the card the flow paid with
    assert run.session_id not in text and "cs_test_" not in text


def test_redaction_masks_secret_shaped_text():
    line = "key mk_AbC-_9 sk_live_x whsec_y cs_test_a1b2 card 4242 4242 4242 4242 order 12345"
    assert redact(line) == ("key [redacted] [redacted] [redacted] [redacted] card [redacted] order 12345")
