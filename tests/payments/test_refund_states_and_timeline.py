"""The refund rules of the state machine, and the timeline endpoint's paging."""

from __future__ import annotations

import pytest

from app.payments.states import (
    ALLOWED_FROM,
    PAID,
    REFUND_ALLOWED_FROM,
    REFUND_REVERSED_FROM,
    REFUND_SUCCEEDED_FROM,
    PaymentStatus,
    RefundStatus,
    refund_status_from_stripe,
    status_for_refunded,
)

S = PaymentStatus


@pytest.mark.parametrize(
    ("refunded", "status"),
    [(0, S.SUCCEEDED), (1, S.PARTIALLY_REFUNDED), (2999, S.PARTIALLY_REFUNDED), (3000, S.REFUNDED)],
)
def test_status_follows_the_refunded_amount(refunded, status):
    assert status_for_refunded(3000, refunded) == status


def test_refund_moves_stay_among_paid_statuses():
    for table in (REFUND_SUCCEEDED_FROM, REFUND_REVERSED_FROM):
        for target, sources in table.items():
            assert target in PAID and sources <= PAID
    # A refund succeeding never lowers the status; only the reversal does, and never to unpaid.
    assert S.SUCCEEDED not in REFUND_SUCCEEDED_FROM
    assert S.REFUNDED not in REFUND_REVERSED_FROM
    # The general state machine stays forward-only.
    for target, sources in ALLOWED_FROM.items():
        assert target not in sources


def test_refund_status_machine():
    assert REFUND_ALLOWED_FROM[RefundStatus.FAILED] == {RefundStatus.PENDING, RefundStatus.SUCCEEDED}
    assert RefundStatus.FAILED not in REFUND_ALLOWED_FROM[RefundStatus.SUCCEEDED]
    assert refund_status_from_stripe("requires_action") == RefundStatus.PENDING
    assert refund_status_from_stripe(None) == RefundStatus.PENDING
    assert refund_status_from_stripe("canceled") == RefundStatus.CANCELED


def test_timeline_pages_forward(shop):
    payment = shop.paid()
    shop.refund(payment["id"], amount=100)
    everything = shop.timeline(payment["id"])
    assert [e["type"] for e in everything] == [
        "payment.requested",
        "payment.open",
        "payment.succeeded",
        "payment.fulfilled",
        "refund.requested",
        "refund.succeeded",
    ]
    first = everything[0]
    assert first["object"] == "payment_event" and first["source"] == "api"
    assert first["created_at"].endswith("Z") and first["data"] == {"amount_total": 3000}
    url = f"/api/v1/payments/{payment['id']}/events"
    page = shop.client.get(url, query_string={"limit": 2}, headers=shop.merchant.headers).get_json()
    assert [e["id"] for e in page["data"]] == [e["id"] for e in everything[:2]] and page["has_more"]
    rest = shop.client.get(
        url, query_string={"starting_after": page["data"][-1]["id"]}, headers=shop.merchant.headers
    ).get_json()
    assert rest["data"] == everything[2:] and not rest["has_more"]
    bad = shop.client.get(url, query_string={"starting_after": "x"}, headers=shop.merchant.headers)
    assert bad.status_code == 400
    assert shop.client.get(url, query_string={"limit": 0}, headers=shop.merchant.headers).status_code == 400
