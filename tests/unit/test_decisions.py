"""The pure decision functions (app/payments/decisions.py), table-driven: no app, no database.

Every payment status × every Checkout Session state × every event type that fetches it, every
refund status we hold × every status Stripe reports, the refunded total × every payment status,
declined attempts in and out of order, and the event routing, with hand-made Stripe dicts (the
shapes of tests/support/fake_stripe.py). The expected answers are written out here from the state
machine's picture (app/payments/states.py) and the README's rules (never backwards, fulfil once),
not computed from the tables under test. The database side (compare-and-set, timeline, merchant
events) is tested in test_checkout_session_decisions.py, test_refund_decisions.py and
test_stripe_event_decisions.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.payments.decisions import (
    Outcome,
    decide_failed_attempt,
    decide_refund,
    decide_refunded,
    decide_session,
    event_outcome,
    is_ours,
    session_email,
    session_first,
)
from tests.support.fake_stripe import checkout_session, payment_intent, stripe_refund

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
STATUSES = (
    "pending",
    "open",
    "processing",
    "succeeded",
    "partially_refunded",
    "refunded",
    "failed",
    "expired",
)
EVENT_TYPES = (
    None,  # the success page or reconciliation: no event
    "checkout.session.completed",
    "checkout.session.expired",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
)
CARD = {"type": "card", "card": {"brand": "visa", "last4": "4242"}}
CARD_CHARGE = {"id": "ch_1", "status": "succeeded", "payment_method_details": CARD}
DECLINE = {
    "code": "card_declined",
    "decline_code": "insufficient_funds",
    "message": "Your card was declined.",
}
FAILED_CHARGE = {
    "id": "ch_2",
    "status": "failed",
    "failure_code": "account_closed",
    "failure_message": "The bank account has been closed.",
    "outcome": {"type": "issuer_declined", "reason": "account_closed"},
}
NO_FAILURE = {"failure_code": None, "failure_decline_code": None, "failure_message": None}

#: Session state → (the session's members, the status it means (None: no move), the statuses a
#: payment moves to it from, the ``failure_code`` it sets). ``unpaid_unexpanded`` fails only
#: when the prompting event is ``async_payment_failed`` (see test below).
SESSIONS = {
    "paid": (
        {"payment_status": "paid", "intent": payment_intent("pi_1", "pay_1", latest_charge=CARD_CHARGE)},
        "succeeded",
        {"pending", "open", "processing"},
        None,
    ),
    "paid_unexpanded": (
        {"payment_status": "paid", "intent": "pi_1"},
        "succeeded",
        {"pending", "open", "processing"},
        None,
    ),
    "no_payment_required": (
        {"payment_status": "no_payment_required"},
        "succeeded",
        {"pending", "open", "processing"},
        None,
    ),
    "debit_processing": (
        {"payment_status": "unpaid", "intent": payment_intent("pi_1", "pay_1", status="processing")},
        "processing",
        {"pending", "open"},
        None,
    ),
    "debit_failed": (
        {
            "payment_status": "unpaid",
            "intent": payment_intent(
                "pi_1", "pay_1", status="requires_payment_method", last_payment_error=DECLINE
            ),
        },
        "failed",
        {"pending", "open", "processing"},
        "card_declined",
    ),
    "debit_failed_by_charge": (
        {
            "payment_status": "unpaid",
            "intent": payment_intent(
                "pi_1", "pay_1", status="requires_payment_method", latest_charge=FAILED_CHARGE
            ),
        },
        "failed",
        {"pending", "open", "processing"},
        "account_closed",
    ),
    "debit_canceled_silently": (
        {"payment_status": "unpaid", "intent": payment_intent("pi_1", "pay_1", status="canceled")},
        "failed",
        {"pending", "open", "processing"},
        "payment_failed",
    ),
    "expired": ({"status": "expired", "payment_status": "unpaid"}, "expired", {"pending", "open"}, None),
    "open": ({"status": "open", "payment_status": "unpaid"}, None, set(), None),
}


def _session(kind: str, **overrides):
    members = dict(SESSIONS[kind][0])
    return checkout_session("cs_1", "pay_1", **{**members, **overrides})


def _decide(session, start: str, event_type: str | None = None):
    return decide_session(
        session, status=start, amount_total=3000, currency="usd", now=NOW, event_type=event_type
    )


@pytest.mark.parametrize("kind", SESSIONS)
@pytest.mark.parametrize("start", STATUSES)
def test_a_session_moves_forward_only_whatever_event_prompted_it(start, kind):
    _members, target, moves_from, failure_code = SESSIONS[kind]
    if target is None:
        expected = Outcome.IGNORE
    elif start == target:
        expected = Outcome.DUPLICATE  # a repeat: the success page after the webhook
    elif start in moves_from:
        expected = Outcome.MOVE
    else:
        expected = Outcome.STALE  # never backwards

    # Every event type in one case (a loop, not 5x the cases: the whole file stays well under a second).
    for event_type in EVENT_TYPES:
        decision = _decide(_session(kind), start, event_type)

        assert (decision.outcome, decision.target) == (expected, target), event_type
        assert decision.fulfil == (target == "succeeded"), event_type  # fulfilment rides on the one move
        assert decision.values.get("failure_code") == failure_code, event_type
        if target == "failed":
            assert decision.data["code"] == failure_code, event_type


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize("start", STATUSES)
def test_an_unexpanded_unpaid_session_fails_only_on_async_payment_failed(start, event_type):
    decision = _decide(_session("debit_processing", intent="pi_1"), start, event_type)
    failed = event_type == "checkout.session.async_payment_failed"
    assert decision.target == ("failed" if failed else "processing")
    moves_from = {"pending", "open", "processing"} if failed else {"pending", "open"}
    expected = (
        Outcome.DUPLICATE
        if start == decision.target
        else Outcome.MOVE
        if start in moves_from
        else Outcome.STALE
    )
    assert decision.outcome is expected
    if failed:
        assert decision.values["failure_code"] == "payment_failed"


def test_a_paid_session_sets_what_paid_and_clears_an_earlier_decline():
    decision = _decide(_session("paid"), "open")
    assert decision.values == {
        "stripe_checkout_session_id": "cs_1",
        "stripe_payment_intent_id": "pi_1",
        **NO_FAILURE,
        "paid_at": NOW,
        "fulfilled_at": NOW,
        "payment_method_details": CARD,
    }


def test_a_paid_session_without_the_expanded_charge_fulfils_without_method_details():
    decision = _decide(_session("paid_unexpanded"), "open")
    assert (decision.outcome, decision.values["payment_method_details"]) == (Outcome.MOVE, None)
    assert decision.values["stripe_payment_intent_id"] == "pi_1"


def test_a_failed_debit_records_the_decline_on_the_timeline():
    decision = _decide(_session("debit_failed_by_charge"), "processing")
    assert decision.data == {
        "code": "account_closed",
        "decline_code": "account_closed",
        "message": "The bank account has been closed.",
    }


def test_an_overlong_stripe_error_is_cut_to_the_columns():
    error = {"code": "c" * 80, "decline_code": "d" * 80, "message": "m" * 600}
    intent = payment_intent("pi_1", "pay_1", status="requires_payment_method", last_payment_error=error)
    values = _decide(_session("debit_failed", intent=intent), "open").values
    assert (
        len(values["failure_code"]),
        len(values["failure_decline_code"]),
        len(values["failure_message"]),
    ) == (
        64,
        64,
        500,
    )


@pytest.mark.parametrize("start", STATUSES)
@pytest.mark.parametrize(
    "received", [{"amount_total": 2999}, {"amount_total": 3001}, {"currency": "eur"}, {"amount_total": None}]
)
def test_a_paid_session_for_another_amount_is_a_mismatch_and_fulfils_nothing(start, received):
    decision = _decide(_session("paid", **received), start)
    assert (decision.outcome, decision.target, decision.fulfil) == (Outcome.MISMATCH, None, False)
    assert decision.mismatch == {
        "expected": {"amount_total": 3000, "currency": "usd"},
        "received": {
            "amount_total": received.get("amount_total", 3000),
            "currency": received.get("currency", "usd"),
        },
    }


@pytest.mark.parametrize(
    ("status", "details", "current", "stored"),
    [
        ("complete", {"email": "shopper@example.com"}, None, "shopper@example.com"),
        ("complete", {"email": "shopper@example.com"}, "merchant@example.com", None),  # the merchant's wins
        ("complete", {"email": ""}, None, None),
        ("complete", {"email": "x" * 255}, None, None),
        ("complete", None, None, None),
        ("open", {"email": "shopper@example.com"}, None, None),
        ("expired", {"email": "shopper@example.com"}, None, None),
    ],
)
def test_the_shoppers_email_is_kept_only_from_a_complete_session_when_the_merchant_gave_none(
    status, details, current, stored
):
    session = {**checkout_session("cs_1", "pay_1", status=status), "customer_details": details}
    assert session_email(session, current) == stored


# --- declined attempts ----------------------------------------------------------------------------

ATTEMPT_ERROR = {**DECLINE, "type": "card_error"}


@pytest.mark.parametrize("start", STATUSES)
@pytest.mark.parametrize(
    ("created", "newest_recorded", "newest"),
    [
        (200, 0, True),
        (200, 100, True),
        (200, 200, True),
        (100, 200, False),
        (None, 0, True),
        (None, 100, False),
    ],
)
def test_a_declined_attempt_is_recorded_and_shown_only_while_unsettled_and_newest(
    start, created, newest_recorded, newest
):
    intent = payment_intent(
        "pi_1",
        "pay_1",
        status="requires_payment_method",
        last_payment_error=ATTEMPT_ERROR,
        latest_charge="ch_9",
    )

    decision = decide_failed_attempt(intent, created=created, status=start, newest_recorded=newest_recorded)

    assert decision.data == {**ATTEMPT_ERROR, "charge": "ch_9", "stripe_created": created}
    shown = newest and start in ("pending", "open", "processing")
    assert decision.failure == (
        {
            "failure_code": "card_declined",
            "failure_decline_code": "insufficient_funds",
            "failure_message": DECLINE["message"],
        }
        if shown
        else None
    )


def test_a_declined_attempt_without_an_error_is_a_payment_failure():
    intent = payment_intent("pi_1", "pay_1", status="requires_payment_method", latest_charge={"id": "ch_3"})
    decision = decide_failed_attempt(intent, created=1, status="open", newest_recorded=0)
    assert decision.data["charge"] == "ch_3"
    assert decision.failure == {
        "failure_code": "payment_failed",
        "failure_decline_code": None,
        "failure_message": None,
    }


# --- refunds --------------------------------------------------------------------------------------

HELD = ("pending", "succeeded", "failed", "canceled")
STRIPE_REFUND_STATUSES = (
    "pending",
    "requires_action",
    "succeeded",
    "failed",
    "canceled",
    "something_new",
    None,
)

#: (ours, Stripe's) → (target, failure_reason, event type, recount, reversal). Anything not listed
#: is a duplicate (Stripe's is still pending, or ours is already there) or stale.
REFUND_MOVES = {
    ("pending", "succeeded"): ("succeeded", None, "refund.succeeded", True, False),
    ("pending", "failed"): ("failed", "lost_or_stolen_card", "refund.failed", False, False),
    ("pending", "canceled"): ("canceled", "lost_or_stolen_card", "refund.failed", False, False),
    ("succeeded", "failed"): (
        "failed",
        "lost_or_stolen_card",
        "refund.failed",
        True,
        True,
    ),  # the late failure
}
REFUND_STALE = {
    ("failed", "succeeded"),
    ("failed", "canceled"),
    ("canceled", "succeeded"),
    ("canceled", "failed"),
    ("succeeded", "canceled"),
}


@pytest.mark.parametrize("theirs", STRIPE_REFUND_STATUSES)
@pytest.mark.parametrize("ours", HELD)
def test_a_refund_moves_along_its_state_machine(ours, theirs):
    answer = stripe_refund(
        "re_1", status=theirs, amount=1000, intent_id="pi_1", failure_reason="lost_or_stolen_card"
    )

    decision = decide_refund(answer, held=ours)

    if (ours, theirs) in REFUND_MOVES:
        target, reason, event_type, recount, reversal = REFUND_MOVES[(ours, theirs)]
        assert decision.outcome is Outcome.MOVE
        assert (decision.target, decision.failure_reason, decision.event_type) == (target, reason, event_type)
        assert (decision.recount, decision.reversal) == (recount, reversal)
    elif (ours, theirs) in REFUND_STALE:
        assert (decision.outcome, decision.event_type) == (Outcome.STALE, None)
    else:
        assert (decision.outcome, decision.event_type) == (Outcome.DUPLICATE, None)


@pytest.mark.parametrize(
    ("theirs", "reason", "stored"),
    [("failed", None, "unknown"), ("canceled", None, "canceled"), ("failed", "x" * 80, "x" * 64)],
)
def test_a_refund_failure_without_stripes_reason_gets_one(theirs, reason, stored):
    answer = stripe_refund("re_1", status=theirs, amount=1000, intent_id="pi_1", failure_reason=reason)
    assert decide_refund(answer, held="pending").failure_reason == stored


#: (payment status, amount_refunded after, reversal) → status moved to; anything else is stale.
#: A $30.00 payment.
REFUNDED_MOVES = {
    ("succeeded", 1000, False): "partially_refunded",
    ("succeeded", 2000, False): "partially_refunded",
    ("succeeded", 3000, False): "refunded",
    ("partially_refunded", 1000, False): "partially_refunded",
    ("partially_refunded", 2000, False): "partially_refunded",
    ("partially_refunded", 3000, False): "refunded",
    # the late failure of a succeeded refund: the one backwards move
    ("partially_refunded", 0, True): "succeeded",
    ("partially_refunded", 1000, True): "partially_refunded",
    ("partially_refunded", 2000, True): "partially_refunded",
    ("refunded", 0, True): "succeeded",
    ("refunded", 1000, True): "partially_refunded",
    ("refunded", 2000, True): "partially_refunded",
}


@pytest.mark.parametrize("reversal", [False, True])
@pytest.mark.parametrize("amount_refunded", [0, 1000, 2000, 3000])
@pytest.mark.parametrize("start", STATUSES)
def test_the_refunded_total_moves_a_paid_payment_and_only_that(start, amount_refunded, reversal):
    decision = decide_refunded(start, 3000, amount_refunded, reversal=reversal)
    moved = REFUNDED_MOVES.get((start, amount_refunded, reversal))
    if moved:
        assert (decision.outcome, decision.target) == (Outcome.MOVE, moved)
        assert start in decision.allowed_from  # what the compare-and-set is given
    else:
        assert decision.outcome is Outcome.STALE


def test_a_refund_can_never_bring_the_payment_back_to_unrefunded_without_a_reversal():
    assert decide_refunded("partially_refunded", 3000, 0, reversal=False).target is None


# --- event routing --------------------------------------------------------------------------------


@pytest.mark.parametrize("handled", [False, True])
@pytest.mark.parametrize("ours", [False, True])
@pytest.mark.parametrize("known", [False, True])
def test_a_claimed_event_is_applied_only_when_ours_handled_and_known_to_stripe(handled, ours, known):
    # (applied once: the claim's unique key, tests/unit/test_stripe_event_decisions.py)
    expected = "processed" if (handled and ours and known) else "ignored"
    assert event_outcome(handled=handled, ours=ours, known_to_stripe=known) == expected


@pytest.mark.parametrize(
    ("livemode", "livemodes", "ours"),
    [
        (True, frozenset({True}), True),
        (False, frozenset({True}), False),  # a live account's event never touches a test payment
        (False, frozenset({False}), True),
        (True, frozenset({False}), False),
        (None, frozenset({True, False}), False),  # no payment at all
    ],
)
def test_an_event_touches_only_payments_of_its_accounts_mode(livemode, livemodes, ours):
    assert is_ours(livemode, livemodes) is ours


@pytest.mark.parametrize("session_id", ["cs_1", None])
@pytest.mark.parametrize("needs_paid", [False, True])
@pytest.mark.parametrize("start", STATUSES)
def test_a_refund_event_for_an_unpaid_payment_applies_its_session_first(start, needs_paid, session_id):
    first = (
        needs_paid and session_id is not None and start not in ("succeeded", "partially_refunded", "refunded")
    )
    assert session_first(needs_paid=needs_paid, status=start, session_id=session_id) == (
        "cs_1" if first else None
    )
