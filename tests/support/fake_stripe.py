"""A fake Stripe gateway for unit tests of the decision functions: hand-made objects, no network.

It answers what :class:`app.stripe_gateway.StripeGateway` answers (plain dicts, and
:class:`~app.stripe_gateway.GatewayRejected` with ``http_status=404`` for an unknown id), and keeps
the real gateway's rule: no call while a database transaction is open.
"""

from __future__ import annotations

from typing import Any

from app.db import assert_no_transaction
from app.stripe_gateway import GatewayRejected


class FakeStripe:
    """Stripe's current objects, by id: ``sessions`` (Checkout Sessions) and ``refunds``."""

    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    def _get(self, table: dict[str, dict[str, Any]], object_id: str, what: str) -> dict[str, Any]:
        assert_no_transaction("a Stripe request")
        self.calls.append(f"{what} {object_id}")
        if object_id not in table:
            raise GatewayRejected(f"No such {what}", "resource_missing", http_status=404)
        return table[object_id]

    def retrieve_checkout_session(self, session_id: str) -> dict[str, Any]:
        return self._get(self.sessions, session_id, "checkout_session")

    def retrieve_refund(self, refund_id: str) -> dict[str, Any]:
        return self._get(self.refunds, refund_id, "refund")

    def list_refunds(self, *, charge: str | None = None, payment_intent: str | None = None) -> list[Any]:
        assert_no_transaction("a Stripe request")
        self.calls.append(f"list_refunds {charge or payment_intent}")
        return [
            r
            for r in self.refunds.values()
            if (charge and r.get("charge") == charge)
            or (payment_intent and r.get("payment_intent") == payment_intent)
        ]


def checkout_session(
    session_id: str,
    payment_id: str,
    *,
    status: str = "complete",
    payment_status: str = "paid",
    intent: dict[str, Any] | str | None = None,
    amount_total: int = 3000,
    currency: str = "usd",
) -> dict[str, Any]:
    """A Checkout Session as Stripe returns it (only the members this service reads)."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "client_reference_id": payment_id,
        "metadata": {"payment_id": payment_id},
        "status": status,
        "payment_status": payment_status,
        "amount_total": amount_total,
        "currency": currency,
        "payment_intent": intent,
    }


def payment_intent(
    intent_id: str, payment_id: str, *, status: str = "succeeded", **extra: Any
) -> dict[str, Any]:
    """A PaymentIntent (expanded inside a session, or an event's snapshot)."""
    return {
        "id": intent_id,
        "object": "payment_intent",
        "status": status,
        "metadata": {"payment_id": payment_id},
        **extra,
    }


def stripe_refund(
    refund_id: str, *, status: str, amount: int, intent_id: str, charge: str = "ch_1", **extra: Any
) -> dict[str, Any]:
    """A Stripe Refund object."""
    return {
        "id": refund_id,
        "object": "refund",
        "status": status,
        "amount": amount,
        "currency": "usd",
        "payment_intent": intent_id,
        "charge": charge,
        "metadata": {},
        **extra,
    }


def event(
    event_id: str, event_type: str, obj: dict[str, Any], created: int = 1_700_000_000
) -> dict[str, Any]:
    """A Stripe event wrapping the snapshot ``obj``."""
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": created,
        "data": {"object": obj},
    }
