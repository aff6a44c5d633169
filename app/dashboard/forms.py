"""The dashboard's forms (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..errors import InvalidRequest
from ..payments.currencies import exponent

#: Stripe's refund reasons and how the form labels them.
REFUND_REASONS = {
    "requested_by_customer": "Requested by customer",
    "duplicate": "Duplicate",
    "fraudulent": "Fraudulent",
}


class SignInForm(FlaskForm):
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class RefundForm(FlaskForm):
    """A refund: ``amount`` in the currency's major unit as typed (empty = all that is left)."""

    amount = StringField("Amount to refund", validators=[Optional(), Length(max=20)])
    reason = SelectField("Reason", choices=[SelectChoice(v, label) for v, label in REFUND_REASONS.items()])


class EndpointForm(FlaskForm):
    """A new webhook endpoint: its URL and, optionally, a description (it receives every event)."""

    url = StringField("Endpoint URL", validators=[DataRequired(), Length(max=2048)])
    description = StringField("Description (optional)", validators=[Optional(), Length(max=500)])


def minor_units(text: str, currency: str) -> int | None:
    """``text`` typed in the currency's major unit ("10", "10.5", "1,000.25") as an integer
    amount in minor units (cents for usd, yen for jpy), or None when empty.

    Raises :class:`InvalidRequest` (``param="amount"``) when it is not a positive number or has
    more decimals than the currency (Stripe: "Zero-decimal currencies" have none).
    """
    cleaned = text.strip().replace(",", "")
    if not cleaned:
        return None
    digits = exponent(currency)
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        message = f"Enter the amount as a number, like {_example(currency)}."
        raise InvalidRequest(message, param="amount") from None
    minor = value.scaleb(digits)
    if not value.is_finite() or value <= 0 or minor != minor.to_integral_value():
        raise InvalidRequest(
            f"Enter a positive amount with at most {digits} decimals, like {_example(currency)}.",
            param="amount",
        )
    return int(minor)


def _example(currency: str) -> str:
    return "10" if exponent(currency) == 0 else "10." + "0" * exponent(currency)
