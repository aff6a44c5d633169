"""The hosted payment page shoppers are sent to (``session.url``)."""

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from .errors import StripeError
from .money import format_amount
from .payments import pay_with_bank_account, pay_with_card

hosted = Blueprint("hosted", __name__, template_folder="templates")
DEFAULT_MERCHANT = "Sandbox merchant"
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
        page = render_template(
            "checkout.html",
            session=session,
            items=state.line_items[session_id],
            merchant=session["metadata"].get("merchant_name") or DEFAULT_MERCHANT,
            money=lambda amount: format_amount(amount, session["currency"]),
            bank_enabled="us_bank_account" in session["payment_method_types"],
            alert=error.message if error is not None and field is None else None,
            field_errors={field: error.message} if field else {},
            form=form or {},
            method=(form or {}).get("method", "card"),
        )
    return page, status


@hosted.get("/pay/<session_id>")
def page(session_id):
    """Show the payment form, or the expired / already-paid notice."""
    return _render(session_id)


@hosted.post("/pay/<session_id>")
def pay(session_id):
    """Handle the form: redirect to ``success_url`` on success, else re-render with the error."""
    state = current_app.sandbox_state
    form = request.form
    email = form.get("email", "").strip()
    if "@" not in email:
        return _render(session_id, StripeError("Your email address is incomplete.", param="email"), form)
    try:
        if form.get("method") == "us_bank_account":
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
