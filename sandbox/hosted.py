"""The hosted payment page shoppers are sent to (``session.url``), and the wallet/bank page of
redirect methods (``alipay``, ``ideal``)."""

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from .errors import StripeError
from .money import format_amount
from .payments import (
    REDIRECT_METHODS,
    finish_redirect,
    pay_with_bank_account,
    pay_with_card,
    pending_redirect,
    start_redirect,
)

hosted = Blueprint("hosted", __name__, template_folder="templates")
DEFAULT_MERCHANT = "Sandbox merchant"
# The payment methods the hosted page can take, in the order it offers them.
METHOD_LABELS = {"card": "Card", "us_bank_account": "US bank account", "alipay": "Alipay", "ideal": "iDEAL"}
# Stripe Checkout's message after a redirect payment failed authentication.
REDIRECT_FAILED = (
    "We are unable to authenticate your payment method. "
    "Please choose a different payment method and try again."
)
# The form field an error's ``param`` is about: like Stripe.js, the page shows the error under
# that field. Errors without one (declines) are the form's alert.
FIELD_OF_PARAM = {
    "email": "email",
    "number": "card_number",
    "exp_month": "exp",
    "exp_year": "exp",
    "cvc": "cvc",
    "us_bank_account[routing_number]": "routing_number",
    "us_bank_account[account_number]": "account_number",
}


def _render(session_id, error=None, form=None, status=200):
    """The hosted page; ``error`` (a :class:`StripeError`) is shown under its field when its
    ``param`` names one (the field gets ``aria-invalid`` and ``aria-describedby`` and the
    focus), else as the form's alert."""
    state = current_app.sandbox_state
    field = FIELD_OF_PARAM.get(error.param) if error is not None else None
    with state.lock:
        session = state.sessions.get(session_id)
        if session is None:
            abort(404)
        methods = [m for m in METHOD_LABELS if m in session["payment_method_types"]]
        chosen = (form or {}).get("method")
        page = render_template(
            "checkout.html",
            session=session,
            items=state.line_items[session_id],
            merchant=_merchant(session),
            money=lambda amount: format_amount(amount, session["currency"]),
            methods=methods,
            labels=METHOD_LABELS,
            not_simulated=[m for m in session["payment_method_types"] if m not in METHOD_LABELS],
            alert=error.message if error is not None and field is None else None,
            field_errors={field: error.message} if field else {},
            form=form or {},
            method=chosen if chosen in methods else (methods[0] if methods else None),
        )
    return page, status


def _merchant(session):
    return session["metadata"].get("merchant_name") or DEFAULT_MERCHANT


@hosted.get("/pay/<session_id>")
def page(session_id):
    """Show the payment form, or the expired / already-paid notice; after a failed redirect
    payment (``?redirect_status=failed``, as Stripe appends to the return URL) with its error."""
    failed = request.args.get("redirect_status") == "failed"
    return _render(session_id, StripeError(REDIRECT_FAILED) if failed else None)


@hosted.post("/pay/<session_id>")
def pay(session_id):
    """Handle the form: redirect to ``success_url`` on success, to the wallet/bank page for a
    redirect method, else re-render with the error."""
    state = current_app.sandbox_state
    form = request.form
    email = form.get("email", "").strip()
    if "@" not in email:
        return _render(session_id, StripeError("Your email address is incomplete.", param="email"), form)
    method = form.get("method") or "card"
    try:
        if method in REDIRECT_METHODS:
            result = start_redirect(state, session_id, method=method, email=email)
            if not isinstance(result, StripeError):
                return redirect(result, 303)
            error = result
        elif method == "us_bank_account":
            error = pay_with_bank_account(
                state,
                session_id,
                routing_number=form.get("routing_number"),
                account_number=form.get("account_number"),
                email=email,
                name=form.get("account_holder") or None,
            )
        else:
            error = pay_with_card(
                state,
                session_id,
                number=form.get("card_number"),
                email=email,
                name=form.get("name") or None,
                expiry=expiry_text(form.get("exp", "")),
                cvc=form.get("cvc", ""),
            )
    except StripeError as exc:
        if exc.status == 404:
            abort(404)
        return _render(session_id)
    if error is not None:
        return _render(session_id, error, form)
    return redirect(success_redirect(state, session_id), 303)


@hosted.get("/authorize/<nonce>")
def wallet(nonce):
    """The wallet's (Alipay) or bank's (iDEAL) page: "Authorize test payment" or "Fail test payment"."""
    state = current_app.sandbox_state
    pending = pending_redirect(state, nonce)
    if pending is None:
        return render_template("redirect.html", pending=None), 404
    session = pending["session"]
    return render_template(
        "redirect.html",
        pending=pending,
        label=METHOD_LABELS[pending["method"]],
        merchant=_merchant(session),
        total=format_amount(session["amount_total"], session["currency"]),
    )


@hosted.post("/authorize/<nonce>")
def authorize(nonce):
    """The shopper's answer on the wallet/bank page: back to ``success_url`` when authorized,
    back to the hosted page with Checkout's error when failed (the session stays open)."""
    state = current_app.sandbox_state
    session_id, error = finish_redirect(state, nonce, authorize=request.form.get("action") == "authorize")
    if session_id is None:
        abort(404)
    if error is None:
        return redirect(success_redirect(state, session_id), 303)
    return redirect(url_for("hosted.page", session_id=session_id, redirect_status="failed"), 303)


def success_redirect(state, session_id):
    """Where the shopper goes after paying: ``success_url`` with the session id filled in."""
    session = state.sessions[session_id]
    if session["success_url"]:
        return session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
    return url_for("hosted.page", session_id=session_id)


def expiry_text(typed):
    """The expiry as the card form reads it: ``1234`` (digits only, as typed on a phone's
    number pad) is ``12/34``; anything else is passed on as typed."""
    digits = typed.replace(" ", "")
    return f"{digits[:2]}/{digits[2:]}" if digits.isdigit() and len(digits) == 4 else typed
