"""Paying a Checkout Session with Stripe's test cards and test bank accounts."""

import datetime
import hashlib

from . import checkout, objects
from .catalog import add_customer
from .errors import StripeError

# Test cards (https://docs.stripe.com/testing). Declines carry (code, decline_code, message).
_DECLINED = "Your card was declined."
CARDS = {
    "4242424242424242": {"brand": "visa", "funding": "credit"},
    "4000056655665556": {"brand": "visa", "funding": "debit"},
    "5555555555554444": {"brand": "mastercard", "funding": "credit"},
    "378282246310005": {"brand": "amex", "funding": "credit"},
    "4000000000005126": {"brand": "visa", "funding": "credit", "refund_fails": True},
    "4000000000000002": {"decline": ("card_declined", "generic_decline", _DECLINED)},
    "4000000000009995": {
        "decline": ("card_declined", "insufficient_funds", "Your card has insufficient funds.")
    },
    "4000000000009987": {"decline": ("card_declined", "lost_card", _DECLINED)},
    "4000000000009979": {"decline": ("card_declined", "stolen_card", _DECLINED)},
    "4000000000000069": {"decline": ("expired_card", "expired_card", "Your card has expired.")},
    "4000000000000127": {
        "decline": ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.")
    },
    "4000000000000119": {
        "decline": (
            "processing_error",
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
        )
    },
}

# Test US bank accounts (routing 110000000): account number -> failure (code, message) or None.
TEST_ROUTING_NUMBER = "110000000"
BANK_ACCOUNTS = {
    "000123456789": None,
    "000111111116": ("no_account", "The customer's bank account could not be located."),
    "000111111113": ("account_closed", "The customer's bank account has been closed."),
    "000222222227": (
        "insufficient_funds",
        "The customer's account has insufficient funds to cover this payment.",
    ),
    "000333333335": (
        "debit_not_authorized",
        "The customer has notified their bank that this payment was unauthorized.",
    ),
}


# Redirect methods: the shopper authorizes (or fails) the payment on the wallet's or bank's page.
# Failing there is what Stripe's test redirect page's "Fail test payment" does: the PaymentIntent
# returns to requires_payment_method with this error and the Checkout Session stays open.
REDIRECT_METHODS = ("alipay", "ideal")
AUTHENTICATION_FAILURE = (
    "payment_intent_authentication_failure",
    "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a "
    "new PaymentMethod to attempt to fulfill this PaymentIntent again.",
)


def _card_error(code, message, param=None, decline_code=None):
    return StripeError(
        message, status=402, type="card_error", code=code, param=param, decline_code=decline_code
    )


def _fingerprint(value):
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def payable_session(state, session_id):
    """Return the session if it can still be paid, else raise a 400 error."""
    session = state.get("checkout.session", session_id)
    checkout.expire_due(state)
    if session["status"] == "expired":
        raise StripeError("This Checkout Session has expired.", code="checkout_session_expired")
    if session["status"] == "complete":
        raise StripeError("This Checkout Session is already complete.", code="checkout_session_complete")
    return session


def pay_with_card(state, session_id, *, number, email, name=None, expiry=None, cvc=None):
    """Attempt a card payment; returns None on success or the card error on decline.

    Client-side validation failures (unknown number, bad expiry or CVC) are
    returned as errors without touching the PaymentIntent, like Stripe.js.
    """
    number = "".join(ch for ch in number or "" if not ch.isspace() and ch != "-")
    card = CARDS.get(number)
    if card is None:
        return _card_error("incorrect_number", "Your card number is incorrect.", "number")
    exp_month, exp_year = 12, 2034
    if expiry is not None:
        parsed = _parse_expiry(expiry)
        if isinstance(parsed, StripeError):
            return parsed
        exp_month, exp_year = parsed
    if cvc is not None and not (cvc.isdigit() and 3 <= len(cvc) <= 4):
        return _card_error("incomplete_cvc", "Your card's security code is incomplete.", "cvc")
    with state.lock:
        session = payable_session(state, session_id)
        email = email or session["customer_email"]
        if "card" not in session["payment_method_types"]:
            return _not_accepted("card")
        intent = _attempt_intent(state, session)
        if "decline" not in card and state.decline_random.random() < state.decline_rate:
            card = {**card, "decline": ("card_declined", "generic_decline", _DECLINED)}
        card = {"brand": "visa", "funding": "credit", **card}
        card.update(number=number, fingerprint=_fingerprint(number))
        charge = _new_charge(
            state,
            intent,
            email,
            name,
            objects.card_details(card, intent["amount"], exp_month, exp_year),
        )
        if "decline" in card:
            code, decline_code, message = card["decline"]
            _fail_charge(state, charge, intent, code, message, "card_error", decline_code)
            return _card_error(code, message, decline_code=decline_code)
        if card.get("refund_fails"):
            state.refund_failing_charges.add(charge["id"])
        _complete_session(state, session, intent, charge, email, name, paid=True)
        _succeed_charge(state, charge, intent)
        state.emit("checkout.session.completed", session)
        _attach_balance_transaction(state, charge)
        return None


def pay_with_bank_account(state, session_id, *, routing_number, account_number, email, name=None):
    """Start an ACH debit that settles after ``state.settle_delay`` sandbox seconds.

    Returns None when the debit was accepted (the session completes unpaid) or
    a validation error.
    """
    routing_number = (routing_number or "").strip()
    account_number = (account_number or "").strip()
    if not (routing_number.isdigit() and len(routing_number) == 9):
        return StripeError(
            "Routing number must have 9 digits.",
            code="routing_number_invalid",
            param="us_bank_account[routing_number]",
        )
    if not (account_number.isdigit() and 4 <= len(account_number) <= 17):
        return StripeError(
            "Account number must have 4 to 17 digits.",
            code="account_number_invalid",
            param="us_bank_account[account_number]",
        )
    with state.lock:
        session = payable_session(state, session_id)
        email = email or session["customer_email"]
        if "us_bank_account" not in session["payment_method_types"]:
            return _not_accepted("us_bank_account")
        intent = _attempt_intent(state, session)
        charge = _new_charge(state, intent, email, name, objects.bank_details(account_number, routing_number))
        charge["outcome"] = objects.outcome("approved_by_network", "authorized", "Payment complete.")
        intent["status"] = "processing"
        intent["payment_method"] = charge["payment_method"]
        intent["last_payment_error"] = None
        settle_at = state.now() + state.settle_delay
        state.settlements[intent["id"]] = (settle_at, BANK_ACCOUNTS.get(account_number))
        _complete_session(state, session, intent, charge, email, name, paid=False)
        state.emit("charge.pending", charge)
        state.emit("payment_intent.processing", intent)
        state.emit("checkout.session.completed", session)
        return None


def _not_accepted(method):
    return StripeError(
        f"This Checkout Session does not accept `{method}` payments.", param="payment_method_types"
    )


def start_redirect(state, session_id, *, method, email, name=None):
    """The shopper chose a redirect method (``alipay``, ``ideal``): the PaymentIntent now
    ``requires_action`` (``payment_intent.requires_action``) with a ``redirect_to_url`` next
    action; returns the URL of the sandbox's wallet/bank page, or a StripeError."""
    with state.lock:
        session = payable_session(state, session_id)
        if method not in REDIRECT_METHODS or method not in session["payment_method_types"]:
            return _not_accepted(method)
        intent = _attempt_intent(state, session)
        nonce = objects.new_id("pa_nonce_")
        url = f"{state.public_url}/authorize/{nonce}"
        state.redirects[nonce] = {
            "session": session_id,
            "intent": intent["id"],
            "method": method,
            "email": email or session["customer_email"],
            "name": name,
        }
        intent.update(
            status="requires_action",
            payment_method=objects.new_id("pm_1"),
            last_payment_error=None,
            next_action={
                "type": "redirect_to_url",
                "redirect_to_url": {"return_url": session["success_url"], "url": url},
            },
        )
        state.emit("payment_intent.requires_action", intent)
        return url


def pending_redirect(state, nonce):
    """The pending redirect payment behind a wallet/bank page, with its session and PaymentIntent
    (``{"method", "session", "intent", ...}``), or None if it is unknown or no longer pending."""
    with state.lock:
        redirect = state.redirects.get(nonce)
        if redirect is None:
            return None
        intent = state.payment_intents[redirect["intent"]]
        action = intent.get("next_action") or {}
        if intent["status"] != "requires_action" or not action.get("redirect_to_url", {}).get(
            "url", ""
        ).endswith(nonce):
            return None  # the shopper paid another way or started another redirect since
        return {**redirect, "session": state.sessions[redirect["session"]], "intent": intent}


def finish_redirect(state, nonce, *, authorize):
    """The wallet/bank answered: ``authorize`` pays the session like a card (``charge.succeeded``,
    ``payment_intent.succeeded``, ``checkout.session.completed``); otherwise the charge fails
    with ``payment_intent_authentication_failure`` and the session stays open. Returns
    ``(session_id, None)`` or ``(session_id or None, StripeError)``."""
    with state.lock:
        redirect = pending_redirect(state, nonce)
        if redirect is None:
            return None, StripeError("This payment is no longer awaiting authorization.")
        session, intent = redirect["session"], redirect["intent"]
        try:
            payable_session(state, session["id"])
        except StripeError as error:
            return session["id"], error
        del state.redirects[nonce]
        payment_method = intent["payment_method"]
        details = objects.redirect_details(
            redirect["method"], _fingerprint(redirect["email"] or nonce), redirect["name"]
        )
        charge = _new_charge(state, intent, redirect["email"], redirect["name"], details)
        charge["payment_method"] = payment_method
        intent["next_action"] = None
        if not authorize:
            code, message = AUTHENTICATION_FAILURE
            _fail_charge(state, charge, intent, code, message, "invalid_request_error")
            return session["id"], StripeError(message, code=code)
        _complete_session(state, session, intent, charge, redirect["email"], redirect["name"], paid=True)
        _succeed_charge(state, charge, intent)
        state.emit("checkout.session.completed", session)
        _attach_balance_transaction(state, charge)
        return session["id"], None


def pay_with_redirect(state, session_id, *, method, email, name=None, authorize=True):
    """:func:`start_redirect` and :func:`finish_redirect` in one go (the control endpoint):
    returns None when paid, else the StripeError."""
    url = start_redirect(state, session_id, method=method, email=email, name=name)
    if isinstance(url, StripeError):
        return url
    _, error = finish_redirect(state, url.rsplit("/", 1)[1], authorize=authorize)
    return error


def settle_due(state):
    """Settle (or fail) every bank debit whose settlement time has come."""
    now = state.now()
    for intent_id, (settle_at, failure) in list(state.settlements.items()):
        if settle_at > now:
            continue
        del state.settlements[intent_id]
        intent = state.payment_intents[intent_id]
        charge = state.charges[intent["latest_charge"]]
        session = next(s for s in state.sessions.values() if s["payment_intent"] == intent_id)
        if failure is None:
            session["payment_status"] = "paid"
            _succeed_charge(state, charge, intent)
            state.emit("checkout.session.async_payment_succeeded", session)
            _attach_balance_transaction(state, charge)
        else:
            code, message = failure
            _fail_charge(state, charge, intent, code, message, "invalid_request_error")
            state.emit("checkout.session.async_payment_failed", session)


def _parse_expiry(text):
    parts = [part.strip() for part in text.replace(" ", "").split("/")]
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        return _card_error("incomplete_expiry", "Your card's expiration date is incomplete.", "exp_month")
    month, year = int(parts[0]), int(parts[1])
    year += 2000 if year < 100 else 0
    if not 1 <= month <= 12:
        return _card_error("invalid_expiry_month", "Your card's expiration month is invalid.", "exp_month")
    today = datetime.date.today()
    if (year, month) < (today.year, today.month):
        return _card_error("invalid_expiry_year", "Your card's expiration year is in the past.", "exp_year")
    return month, year


def _attempt_intent(state, session):
    """The session's PaymentIntent, created on the first payment attempt."""
    intent = state.payment_intents.get(session["payment_intent"])
    if intent is None:
        data = state.intent_data[session["id"]]
        intent = objects.payment_intent(
            created=state.now(),
            amount=session["amount_total"],
            currency=session["currency"],
            metadata=dict(data["metadata"]),
            description=data["description"],
            payment_method_types=session["payment_method_types"],
        )
        intent["receipt_email"] = data["receipt_email"]
        intent["statement_descriptor_suffix"] = data["statement_descriptor_suffix"]
        intent["customer"] = session["customer"]
        state.payment_intents[intent["id"]] = intent
        session["payment_intent"] = intent["id"]
        state.emit("payment_intent.created", intent)
    return intent


def _new_charge(state, intent, email, name, details):
    charge = objects.charge(
        intent=intent,
        created=state.now(),
        payment_method=objects.new_id("pm_1"),
        details=details,
        billing_email=email,
        billing_name=name,
    )
    charge["receipt_email"] = intent["receipt_email"]
    charge["customer"] = intent["customer"]
    state.charges[charge["id"]] = charge
    intent["latest_charge"] = charge["id"]
    intent["next_action"] = None  # a new attempt replaces a pending redirect
    return charge


def _succeed_charge(state, charge, intent):
    """Mark the charge and its PaymentIntent succeeded: ``charge.succeeded``, ``payment_intent.succeeded``."""
    charge.update(
        status="succeeded",
        paid=True,
        captured=True,
        amount_captured=charge["amount"],
        outcome=objects.outcome("approved_by_network", "authorized", "Payment complete."),
    )
    intent.update(
        status="succeeded",
        amount_received=intent["amount"],
        payment_method=charge["payment_method"],
        last_payment_error=None,
    )
    state.emit("charge.succeeded", charge)
    state.emit("payment_intent.succeeded", intent)


def _attach_balance_transaction(state, charge):
    """Stripe attaches the balance transaction after the charge succeeds and sends ``charge.updated``."""
    charge["balance_transaction"] = objects.new_id("txn_3")
    state.emit("charge.updated", charge)


def _fail_charge(state, charge, intent, code, message, error_type, decline_code=None):
    reason = decline_code or code
    charge.update(
        status="failed",
        failure_code=code,
        failure_message=message,
        outcome=objects.outcome(
            "declined_by_network",
            "issuer_declined",
            f"The bank returned the decline code `{reason}`.",
            reason,
        ),
    )
    state.emit("charge.failed", charge)
    intent.update(
        status="requires_payment_method",
        payment_method=None,
        last_payment_error={
            "code": code,
            "decline_code": decline_code,
            "message": message,
            "type": error_type,
        },
    )
    state.emit("payment_intent.payment_failed", intent)


def _complete_session(state, session, intent, charge, email, name, *, paid):
    """Complete the session (paid once its PaymentIntent succeeded), creating the customer if asked.

    With ``customer_creation=always`` Checkout creates a Customer from what the
    shopper typed (``customer.created``) and links it to the session, the
    PaymentIntent and the charge.
    """
    if session["customer"] is None and session["customer_creation"] == "always":
        customer = add_customer(state, email=email, name=name)
        session["customer"] = intent["customer"] = charge["customer"] = customer["id"]
    session.update(
        status="complete",
        payment_status="paid" if paid else "unpaid",
        url=None,
        customer_details=objects.customer_details(email, name),
        collected_information={
            "business_name": None,
            "individual_name": None,
            "shipping_details": None,
        },
    )
