"""Refunds: creation with Stripe's validation, and the asynchronous failure of
refunds to the 4000 0000 0000 5126 test card."""

from . import objects
from .errors import StripeError, no_such
from .money import format_amount
from .wire import get_int, get_metadata, get_str, reject_unknown

REASONS = ("duplicate", "fraudulent", "requested_by_customer")
_CREATE_PARAMS = {"charge", "payment_intent", "amount", "reason", "metadata", "expand"}


def create_refund(state, params):
    """Refund part or all of a succeeded charge (found by ``charge`` or ``payment_intent``)."""
    reject_unknown(params, _CREATE_PARAMS)
    amount = get_int(params, "amount", minimum=1)
    reason = get_str(params, "reason", choices=REASONS)
    metadata = get_metadata(params)
    with state.lock:
        charge = _refundable_charge(state, params)
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise StripeError(
                f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
            )
        if amount is None:
            amount = remaining
        elif amount > remaining:
            currency = charge["currency"]
            raise StripeError(
                f"Refund amount ({format_amount(amount, currency)}) is greater than unrefunded "
                f"amount on charge ({format_amount(remaining, currency)})",
                code="amount_too_large",
                param="amount",
            )
        refund = objects.refund(
            charge=charge, amount=amount, created=state.now(), reason=reason, metadata=metadata
        )
        state.refunds[refund["id"]] = refund
        _sync_charge(state, charge)
        state.emit("refund.created", refund)
        state.emit("charge.refunded", charge)
        if charge["id"] in state.refund_failing_charges:
            state.refunds_to_fail.append(refund["id"])
        return refund


def _refundable_charge(state, params):
    charge_id = get_str(params, "charge")
    intent_id = get_str(params, "payment_intent")
    if not charge_id and not intent_id:
        raise StripeError(
            "One of the following params should be provided for this request: payment_intent or charge.",
            code="parameter_missing",
        )
    if intent_id:
        intent = state.payment_intents.get(intent_id)
        if intent is None:
            raise StripeError(**_missing("payment_intent", intent_id))
        if intent["status"] != "succeeded":
            raise StripeError(
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        if charge_id and charge_id != intent["latest_charge"]:
            raise StripeError(
                f"Charge {charge_id} does not belong to PaymentIntent {intent_id}.", param="charge"
            )
        charge_id = intent["latest_charge"]
    charge = state.charges.get(charge_id)
    if charge is None:
        raise StripeError(**_missing("charge", charge_id))
    if charge["status"] != "succeeded":
        raise StripeError(f"Charge {charge_id} has not succeeded and cannot be refunded.", param="charge")
    return charge


def _missing(kind, object_id):
    error = no_such(kind, object_id, param=kind)
    return {"message": error.message, "code": error.code, "param": error.param}


def _sync_charge(state, charge):
    """Recompute a charge's refund totals and embedded refund list."""
    refunds = [r for r in state.refunds.values() if r["charge"] == charge["id"]]
    charge["amount_refunded"] = sum(r["amount"] for r in refunds if r["status"] != "failed")
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    charge["refunds"]["data"] = refunds[::-1]


def fail_pending(state):
    """Fail refunds made to the refund-failing test card (status ``failed``)."""
    while state.refunds_to_fail:
        refund = state.refunds[state.refunds_to_fail.pop(0)]
        refund.update(
            status="failed",
            failure_reason="expired_or_canceled_card",
            failure_balance_transaction=objects.new_id("txn_3"),
        )
        _sync_charge(state, state.charges[refund["charge"]])
        state.emit("refund.updated", refund)
        state.emit("charge.refund.updated", refund)
        state.emit("refund.failed", refund)
