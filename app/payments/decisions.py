"""What to do with a Stripe object, decided from plain values: no database, no app, no clock.

Each function here takes the payment's (or refund's) current state as plain values and a Stripe
object as a dict, and returns a small frozen dataclass saying what should happen: the target
status, the columns to set, the timeline entry, or why nothing happens (``duplicate``: already
there; ``stale``: the state machine does not go back; ``ignore``: nothing to do). The callers
(:mod:`app.payments.fulfilment`, :mod:`app.payments.declines`,
:mod:`app.payments.refund_settlement`, :mod:`app.payments.transitions`,
:mod:`app.payments.stripe_events`) read the state, call the function and apply its answer with
compare-and-set UPDATEs, so every rule has one implementation and a table test that needs no
database (``tests/unit/test_decisions.py``). The rules the functions share come from
:mod:`app.payments.states` (never backwards) and the README (fulfil once). Amounts are integers
in the currency's minor unit; timestamps are whatever the caller passes as ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .payment_methods import details_from_charge
from .states import (
    ALLOWED_FROM,
    PAID,
    REFUND_ALLOWED_FROM,
    REFUND_REVERSED_FROM,
    REFUND_SUCCEEDED_FROM,
    UNSETTLED,
    PaymentStatus,
    RefundStatus,
    refund_status_from_stripe,
    status_for_refunded,
)


class Outcome(StrEnum):
    """Why a decision does or does not change anything.

    ``move``: the object moves to the decision's target. ``duplicate``: it already is there.
    ``stale``: the state machine does not allow the move from where it is (a late or older
    report). ``mismatch``: Stripe's amount or currency is not ours (recorded, nothing moves).
    ``ignore``: the Stripe object asks for no move at all (an ``open`` session).
    """

    MOVE = "move"
    DUPLICATE = "duplicate"
    STALE = "stale"
    MISMATCH = "mismatch"
    IGNORE = "ignore"


def move_outcome(current: str, target: PaymentStatus) -> Outcome:
    """Whether a payment in ``current`` moves to ``target`` (:data:`~app.payments.states.ALLOWED_FROM`:
    forward only): ``move``, ``duplicate`` (already there) or ``stale`` (it would go back)."""
    if current == target:
        return Outcome.DUPLICATE
    return Outcome.MOVE if current in ALLOWED_FROM[target] else Outcome.STALE


# --- failures ------------------------------------------------------------------------------------


def failure_values(error: dict[str, Any] | None, default_code: str) -> dict[str, Any]:
    """The payment's ``failure`` columns from a Stripe error object (``last_payment_error``:
    ``{code, decline_code, message}``), or ``default_code`` when Stripe gave none."""
    error = error or {}
    return {
        "failure_code": (error.get("code") or default_code)[:64],
        "failure_decline_code": (error.get("decline_code") or None) and error["decline_code"][:64],
        "failure_message": (error.get("message") or None) and error["message"][:500],
    }


def charge_failure(intent: dict[str, Any]) -> dict[str, Any] | None:
    """A failed charge's ``failure_code`` / ``failure_message`` as an error object, if expanded."""
    charge = intent.get("latest_charge")
    if isinstance(charge, dict) and charge.get("status") == "failed":
        outcome = charge.get("outcome") or {}
        return {
            "code": charge.get("failure_code"),
            "decline_code": outcome.get("reason") if outcome.get("type") == "issuer_declined" else None,
            "message": charge.get("failure_message"),
        }
    return None


def failure_data(failure: dict[str, Any]) -> dict[str, Any]:
    """The ``payment.failed`` timeline data (``{code, decline_code, message}``) for the
    ``failure`` columns returned by :func:`failure_values`."""
    return {
        "code": failure["failure_code"],
        "decline_code": failure["failure_decline_code"],
        "message": failure["failure_message"],
    }


# --- Checkout Sessions ---------------------------------------------------------------------------

#: PaymentIntent statuses after which a completed-but-unpaid session can no longer be paid
#: (Stripe, "How PaymentIntents work": a failed delayed payment returns the intent to
#: ``requires_payment_method``; Checkout does not offer the shopper another try).
_INTENT_FAILED = frozenset({"requires_payment_method", "canceled"})

#: The payment's ``failure`` columns cleared (the payment succeeded after a decline).
_NO_FAILURE = {"failure_code": None, "failure_decline_code": None, "failure_message": None}


@dataclass(frozen=True)
class SessionDecision:
    """What a Checkout Session means for our payment (:func:`decide_session`).

    ``outcome``: see :class:`Outcome`. ``target``: the status the session means (None for
    ``ignore`` and ``mismatch``). ``values``: the columns set with the move (Stripe ids,
    ``paid_at`` / ``fulfilled_at``, ``payment_method_details``, the ``failure`` columns).
    ``data``: the ``payment.<target>`` timeline data. ``fulfil``: record ``payment.fulfilled``
    after the move. ``mismatch``: the ``payment.amount_mismatch`` data (expected and received
    amount and currency) when Stripe's amount or currency is not ours.
    """

    outcome: Outcome
    target: PaymentStatus | None = None
    values: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    fulfil: bool = False
    mismatch: dict[str, Any] | None = None


def session_intent_id(session: dict[str, Any]) -> str | None:
    """The session's PaymentIntent id, whether ``payment_intent`` is expanded or not."""
    intent = session.get("payment_intent")
    if isinstance(intent, dict):
        return intent.get("id")
    return intent


def session_email(session: dict[str, Any], current: str | None) -> str | None:
    """The email to store from a ``complete`` session (``customer_details.email``, what the shopper
    typed on Stripe's page): only when the payment has none (``current``: the merchant's
    ``customer_email`` is never overwritten) and it fits the column (254 characters)."""
    if session.get("status") != "complete" or current is not None:
        return None
    email = (session.get("customer_details") or {}).get("email")
    if not isinstance(email, str) or not email or len(email) > 254:
        return None
    return email


def decide_session(
    session: dict[str, Any],
    *,
    status: str,
    amount_total: int,
    currency: str,
    now: Any,
    event_type: str | None = None,
) -> SessionDecision:
    """What ``session`` (a Stripe Checkout Session as a dict) means for our payment, now in
    ``status`` for ``amount_total`` (minor units) in ``currency``; ``now`` is the time written
    to ``paid_at`` / ``fulfilled_at``.

    Stripe's Checkout Session ``status`` (``open``, ``complete``, ``expired``) and
    ``payment_status`` (``paid``, ``unpaid``, ``no_payment_required``) (API reference, "The
    Checkout Session object"; "Fulfill orders"):

    - ``complete`` + ``paid`` / ``no_payment_required``: ``succeeded`` and fulfil once — after
      the amount and currency are checked (a difference is ``mismatch``: nothing moves);
      ``payment_method_details`` from the expanded latest charge; ``failure`` cleared.
    - ``complete`` + ``unpaid`` (a delayed payment method, "Fulfill orders: delayed
      notification payment methods"): ``failed`` when the expanded PaymentIntent is back in
      ``requires_payment_method`` / ``canceled`` — or, unexpanded, when ``event_type`` is
      ``checkout.session.async_payment_failed`` — with the ``failure`` columns from the intent's
      ``last_payment_error`` (else its failed charge, else ``payment_failed``); otherwise
      ``processing``.
    - ``expired``: ``expired``. ``open`` (or anything else): ``ignore``.

    The outcome is :func:`move_outcome` from ``status``: never backwards, so a stale or repeated
    session is ``stale`` or ``duplicate``.
    """
    state = session.get("status")
    ids = {"stripe_checkout_session_id": session["id"]}
    if intent_id := session_intent_id(session):
        ids["stripe_payment_intent_id"] = intent_id
    if state == "complete" and session.get("payment_status") in ("paid", "no_payment_required"):
        return _paid_session(session, ids, amount_total, currency, status, now)
    if state == "complete":
        return _unpaid_session(session, ids, status, event_type)
    if state == "expired":
        target = PaymentStatus.EXPIRED
        return SessionDecision(move_outcome(status, target), target, ids)
    return SessionDecision(Outcome.IGNORE)


def _paid_session(
    session: dict[str, Any], ids: dict[str, Any], amount_total: int, currency: str, status: str, now: Any
) -> SessionDecision:
    if session.get("amount_total") != amount_total or session.get("currency") != currency:
        return SessionDecision(
            Outcome.MISMATCH,
            mismatch={
                "expected": {"amount_total": amount_total, "currency": currency},
                "received": {
                    "amount_total": session.get("amount_total"),
                    "currency": session.get("currency"),
                },
            },
        )
    intent = session.get("payment_intent")
    details = details_from_charge(intent.get("latest_charge")) if isinstance(intent, dict) else None
    paid = {"paid_at": now, "fulfilled_at": now, "payment_method_details": details}
    target = PaymentStatus.SUCCEEDED
    return SessionDecision(move_outcome(status, target), target, {**ids, **_NO_FAILURE, **paid}, fulfil=True)


def _unpaid_session(
    session: dict[str, Any], ids: dict[str, Any], status: str, event_type: str | None
) -> SessionDecision:
    intent = session.get("payment_intent")
    if isinstance(intent, dict):
        failed = intent.get("status") in _INTENT_FAILED
        error = intent.get("last_payment_error") or charge_failure(intent)
    else:
        failed = event_type == "checkout.session.async_payment_failed"
        error = None
    if not failed:
        return SessionDecision(move_outcome(status, PaymentStatus.PROCESSING), PaymentStatus.PROCESSING, ids)
    failure = failure_values(error, "payment_failed")
    target = PaymentStatus.FAILED
    return SessionDecision(move_outcome(status, target), target, {**ids, **failure}, failure_data(failure))


# --- declined attempts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptDecision:
    """What a declined attempt (``payment_intent.payment_failed``) does (:func:`decide_failed_attempt`).

    ``data``: the ``payment.failed_attempt`` timeline data (always recorded). ``failure``: the
    payment's ``failure`` columns to set, or None when they keep showing what they show
    (the payment is settled, or a newer attempt is already recorded).
    """

    data: dict[str, Any]
    failure: dict[str, Any] | None


def decide_failed_attempt(
    intent: dict[str, Any], *, created: int | None, status: str, newest_recorded: int
) -> AttemptDecision:
    """What the PaymentIntent ``intent`` (as the event carried it: its ``last_payment_error``
    ``{code, decline_code, message, type}`` describes that very attempt) does to our payment in
    ``status``. ``created`` is the event's ``created`` and ``newest_recorded`` the latest
    ``stripe_created`` among the attempts already recorded (unix seconds; 0 for none).

    The attempt is always recorded; the status never changes (Checkout lets the shopper try again
    until the session expires: Stripe, "Checkout: declined payments"). The ``failure`` columns
    show it while the payment is ``pending``, ``open`` or ``processing`` and no attempt with a
    later ``created`` was recorded (events arrive in any order: Stripe, "Webhooks: event
    ordering").
    """
    error = intent.get("last_payment_error") or {}
    charge = intent.get("latest_charge")
    data = {
        "code": error.get("code"),
        "decline_code": error.get("decline_code"),
        "message": error.get("message"),
        "type": error.get("type"),
        "charge": charge.get("id") if isinstance(charge, dict) else charge,
        "stripe_created": created,
    }
    newest = (created or 0) >= newest_recorded
    failure = failure_values(error, "payment_failed") if newest and status in UNSETTLED else None
    return AttemptDecision(data, failure)


# --- refunds -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundDecision:
    """What a Stripe Refund does to our refund (:func:`decide_refund`).

    ``outcome``: ``move`` (to ``target``), ``duplicate`` (already there, or Stripe's refund is
    still pending: only its id is stored), or ``stale`` (the refund state machine does not go
    there from ours). ``failure_reason``: set with a move to ``failed`` / ``canceled``.
    ``event_type``: the timeline entry and merchant event of a move (``refund.succeeded`` or
    ``refund.failed``). ``recount``: the payment's ``amount_refunded`` changes (a refund
    succeeded, or one that had succeeded failed: ``reversal``).
    """

    outcome: Outcome
    target: RefundStatus
    failure_reason: str | None = None
    event_type: str | None = None
    recount: bool = False
    reversal: bool = False


def decide_refund(stripe_refund: dict[str, Any], *, held: str) -> RefundDecision:
    """What ``stripe_refund`` (a current Stripe Refund object as a dict) does to our refund, now
    ``held`` (our refund status).

    Stripe's refund ``status`` is ``pending``, ``requires_action``, ``succeeded``, ``failed`` or
    ``canceled`` (API reference, "The Refund object"; "Failed refunds"), mapped by
    :func:`~app.payments.states.refund_status_from_stripe`. Moves follow
    :data:`~app.payments.states.REFUND_ALLOWED_FROM`: pending → succeeded (``amount_refunded``
    grows), pending → failed / canceled, succeeded → failed (the late failure:
    ``amount_refunded`` shrinks). ``failure_reason`` is Stripe's (else ``canceled`` / ``unknown``,
    at most 64 characters). Anything else is ``duplicate`` (Stripe still pending, or already
    there) or ``stale``.
    """
    target = refund_status_from_stripe(stripe_refund.get("status"))
    if target == RefundStatus.PENDING or target.value == held:
        return RefundDecision(Outcome.DUPLICATE, target)
    if held not in REFUND_ALLOWED_FROM[target]:
        return RefundDecision(Outcome.STALE, target)
    succeeded = target == RefundStatus.SUCCEEDED
    failure = stripe_refund.get("failure_reason") or (
        "canceled" if target == RefundStatus.CANCELED else "unknown"
    )
    return RefundDecision(
        Outcome.MOVE,
        target,
        failure_reason=None if succeeded else failure[:64],
        event_type="refund.succeeded" if succeeded else "refund.failed",
        recount=succeeded or held == RefundStatus.SUCCEEDED,
        reversal=held == RefundStatus.SUCCEEDED,
    )


@dataclass(frozen=True)
class RefundedDecision:
    """The payment's move when its ``amount_refunded`` changes (:func:`decide_refunded`):
    ``target`` and the statuses it may move to it from (``allowed_from``, for the
    compare-and-set), or ``target`` None when no move is allowed at all."""

    outcome: Outcome
    target: PaymentStatus | None
    allowed_from: frozenset[PaymentStatus] = frozenset()


def decide_refunded(
    status: str, amount_total: int, amount_refunded: int, *, reversal: bool
) -> RefundedDecision:
    """The status a paid payment now in ``status`` moves to when the sum of its succeeded refunds
    becomes ``amount_refunded`` (minor units) of ``amount_total``
    (:func:`~app.payments.states.status_for_refunded`).

    ``reversal`` False (a refund succeeded: :data:`~app.payments.states.REFUND_SUCCEEDED_FROM`)
    or True (a succeeded refund failed late, the one backwards move:
    :data:`~app.payments.states.REFUND_REVERSED_FROM`). ``move`` when ``status`` is allowed,
    else ``stale`` (an unpaid payment, or the total would jump the wrong way).
    """
    target = status_for_refunded(amount_total, amount_refunded)
    allowed = (REFUND_REVERSED_FROM if reversal else REFUND_SUCCEEDED_FROM).get(target)
    if allowed is None:
        return RefundedDecision(Outcome.STALE, None)
    return RefundedDecision(Outcome.MOVE if status in allowed else Outcome.STALE, target, allowed)


# --- Stripe events -------------------------------------------------------------------------------


def event_outcome(*, handled: bool, ours: bool, known_to_stripe: bool) -> str:
    """What :func:`~app.payments.stripe_events.process_event` does with an event it has claimed:
    ``ignored`` when its type is not ``handled``, its object is not ``ours`` (or of another mode),
    or Stripe no longer knows the object (a 404 on the re-fetch: a snapshot alone never moves
    money), else ``processed``. A duplicate never gets here: each event is applied once because
    its id is claimed in the same transaction as its effect (a unique key), which the database
    settles."""
    if not (handled and ours and known_to_stripe):
        return "ignored"
    return "processed"


def is_ours(payment_livemode: bool | None, livemodes: frozenset[bool]) -> bool:
    """Whether a payment (``payment_livemode``: None when there is none) may be touched by an event
    from an account of ``livemodes``: another mode's payment never is."""
    return payment_livemode is not None and payment_livemode in livemodes


def session_first(*, needs_paid: bool, status: str, session_id: str | None) -> str | None:
    """The Checkout Session (``session_id``) a refund event must apply first, or None: a refund
    (``needs_paid``) settles against a paid payment, and ours (``status``) is not known paid yet
    (its ``checkout.session.completed`` is still on its way)."""
    return session_id if needs_paid and status not in PAID and session_id else None
