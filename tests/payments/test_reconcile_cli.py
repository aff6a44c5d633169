"""Issue 3, part 5: ``flask payments reconcile`` recovers from missed webhooks."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Payment
from app.payments.reconcile import reconcile
from app.stripe_gateway import GatewayDown, stripe_gateways


def run(app, *args):
    result = app.test_cli_runner().invoke(args=["payments", "reconcile", "--older-than", "0", *args])
    return result


def test_webhooks_off_during_payment_then_reconcile_fulfils_once(shop, app):
    payment = shop.create()
    shop.sandbox.webhooks(False)
    shop.pay(payment, "4000000000000002")  # a decline first: its event is lost too
    assert shop.pay(payment)["error"] is None
    shop.sandbox.webhooks(True)
    assert shop.get(payment["id"])["status"] == "open"

    dry = run(app, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"would change {payment['id']}: open → succeeded" in dry.output
    assert dry.output.strip().splitlines()[-1].startswith("reconcile (dry run): ")
    assert shop.get(payment["id"])["status"] == "open"
    assert shop.db_types(payment["id"]) == ["payment.requested", "payment.open"]

    result = run(app)
    assert result.exit_code == 0, result.output
    assert f"changed {payment['id']}: open → succeeded" in result.output
    summary = result.output.strip().splitlines()[-1]
    assert summary.startswith("reconcile: ") and "0 errors" in summary

    done = shop.get(payment["id"])
    assert done["status"] == "succeeded" and done["fulfilled_at"]
    timeline = shop.timeline(payment["id"])
    assert [e["type"] for e in timeline] == [
        "payment.requested",
        "payment.open",
        "payment.failed_attempt",
        "payment.succeeded",
        "payment.fulfilled",
    ]
    assert {e["source"] for e in timeline[2:]} == {"reconcile"}

    again = run(app)
    assert again.exit_code == 0 and payment["id"] not in again.output
    assert shop.db_types(payment["id"]).count("payment.fulfilled") == 1


def test_payment_sweep_without_events(shop, app):
    """Even with no event to read (older than the window), asking Stripe settles the payment."""
    payment = shop.create()
    shop.sandbox.webhooks(False)
    shop.pay(payment)
    shop.sandbox.webhooks(True)
    with app.app_context():
        report = reconcile(stripe_gateways(), older_than=0, events_window=0)
    assert report.payments_checked >= 1 and not report.errors
    assert [str(c) for c in report.changes if c.object_id == payment["id"]] == [
        f"{payment['id']}: open → succeeded (Checkout Session {payment['stripe_checkout_session_id']})"
    ]
    assert shop.get(payment["id"])["status"] == "succeeded"


def test_recent_payments_are_left_alone(shop, app):
    payment = shop.create()
    shop.sandbox.webhooks(False)
    shop.pay(payment)
    shop.sandbox.webhooks(True)
    with app.app_context():
        report = reconcile(stripe_gateways(), older_than=3600, events_window=0)
    assert payment["id"] not in {c.object_id for c in report.changes}
    assert shop.get(payment["id"])["status"] == "open"


def test_bank_debit_settled_while_webhooks_were_off(shop, app):
    payment = shop.create()
    shop.sandbox.webhooks(False)
    shop.pay_by_bank(payment)
    shop.sandbox.advance(6)
    shop.sandbox.webhooks(True)
    result = run(app)
    assert result.exit_code == 0, result.output
    done = shop.get(payment["id"])
    assert done["status"] == "succeeded" and done["fulfilled_at"]
    assert shop.db_types(payment["id"]).count("payment.fulfilled") == 1


def test_pending_payment_whose_session_creation_never_completed(shop, app, monkeypatch):
    gateway = app.extensions["stripe_gateways"].live
    real = gateway.create_checkout_session

    def lost_answer(params, *, idempotency_key):
        real(params, idempotency_key=idempotency_key)
        raise GatewayDown("read timeout")

    monkeypatch.setattr(gateway, "create_checkout_session", lost_answer)
    from tests.helpers import payment_body

    response = shop.client.post("/api/v1/payments", json=payment_body(), headers=shop.merchant.headers)
    monkeypatch.undo()
    assert response.status_code == 502
    payment_id = response.get_json()["error"]["payment_id"]
    assert shop.get(payment_id)["status"] == "pending"

    result = run(app)
    assert result.exit_code == 0, result.output
    assert f"changed {payment_id}: pending → open" in result.output
    opened = shop.get(payment_id)
    assert opened["status"] == "open"
    sessions = [s for s in shop.stripe.v1.checkout.sessions.list(params={"limit": 100}).data]
    assert [s.id for s in sessions if s.client_reference_id == payment_id] == [
        opened["stripe_checkout_session_id"]
    ]


def test_pending_payment_stripe_refuses_ends_failed(shop, app, monkeypatch):
    gateway = app.extensions["stripe_gateways"].live
    monkeypatch.setattr(
        gateway,
        "create_checkout_session",
        lambda params, *, idempotency_key: (_ for _ in ()).throw(GatewayDown("x")),
    )
    from tests.helpers import payment_body

    response = shop.client.post("/api/v1/payments", json=payment_body(), headers=shop.merchant.headers)
    monkeypatch.undo()
    payment_id = response.get_json()["error"]["payment_id"]
    with app.app_context():  # too close to its expiry for Stripe to accept a session now
        db.session.execute(
            sa.update(Payment).where(Payment.id == payment_id).values(expires_at=Payment.created_at)
        )
        db.session.commit()
    result = run(app)
    assert result.exit_code == 0, result.output
    failed = shop.get(payment_id)
    assert failed["status"] == "failed" and failed["failure"]["code"]


def test_pending_refund_is_sent_again(shop, app, monkeypatch):
    payment = shop.paid()
    gateway = app.extensions["stripe_gateways"].live

    def down(params, *, idempotency_key):
        raise GatewayDown("connection refused")

    monkeypatch.setattr(gateway, "create_refund", down)
    refund = shop.refund(payment["id"], amount=900).get_json()
    monkeypatch.undo()
    assert refund["status"] == "pending"
    # The pending refund holds its amount back.
    over = shop.refund(payment["id"], amount=2101)
    assert over.get_json()["error"]["code"] == "refund_exceeds_amount"

    dry = run(app, "--dry-run")
    assert (
        f"would change {refund['id']}" not in dry.output and "would send it to Stripe again" not in dry.output
    )
    with app.app_context():
        report = reconcile(stripe_gateways(), older_than=0, dry_run=True, events_window=0)
    assert report.refunds_checked == 1 and not report.changes

    result = run(app)
    assert result.exit_code == 0, result.output
    assert f"changed {refund['id']}: pending → succeeded (sent to Stripe again)" in result.output
    after = shop.get(payment["id"])
    assert (after["status"], after["amount_refunded"]) == ("partially_refunded", 900)
    shop.flush()
    assert shop.types(payment["id"]).count("refund.succeeded") == 1
    assert shop.sandbox.control("deliveries/flush")["empty"]


def test_reconcile_reports_stripe_unreachable(shop, app, monkeypatch):
    payment = shop.create()
    gateway = app.extensions["stripe_gateways"].live

    def down(*args, **kwargs):
        raise GatewayDown("connection refused")

    monkeypatch.setattr(gateway, "retrieve_checkout_session", down)
    monkeypatch.setattr(gateway, "list_events", down)
    result = run(app)
    assert result.exit_code == 1
    assert "connection refused" in result.output
    assert f"{payment['id']}: Stripe: connection refused" in result.output
    assert "2 errors" in result.output.strip().splitlines()[-1]
