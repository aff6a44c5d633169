"""Checkout Sessions: validation and creation, expiry."""

from . import objects
from .errors import StripeError, invalid_param, missing_param
from .money import MINIMUM_CHARGE, format_amount
from .wire import get_int, get_metadata, get_str, reject_unknown

MIN_LIFETIME = 30 * 60
MAX_LIFETIME = 24 * 60 * 60
PAYMENT_METHOD_TYPES = ("card", "us_bank_account")
_CREATE_PARAMS = {
    "mode",
    "line_items",
    "success_url",
    "cancel_url",
    "client_reference_id",
    "customer_email",
    "metadata",
    "payment_intent_data",
    "expires_at",
    "payment_method_types",
    "expand",
    "locale",
    "submit_type",
    "billing_address_collection",
    "customer_creation",
    "allow_promotion_codes",
    "ui_mode",
}
_INTENT_PARAMS = {"metadata", "description", "receipt_email", "statement_descriptor_suffix"}


def create_session(state, params):
    """Validate create params like Stripe does and store a new open session."""
    reject_unknown(params, _CREATE_PARAMS)
    mode = get_str(params, "mode", required=True)
    if mode != "payment":
        raise invalid_param("mode", "The sandbox only supports `mode=payment`.")
    get_str(params, "ui_mode", choices=("hosted",))
    items = _line_items(params)
    currency = items[0]["price_data"]["currency"]
    amount = sum(item["price_data"]["unit_amount"] * item["quantity"] for item in items)
    minimum = MINIMUM_CHARGE.get(currency)
    if minimum and amount < minimum:
        raise invalid_param(
            "line_items",
            "The Checkout Session's total amount due must add up to at least "
            f"{format_amount(minimum, currency)} {currency}",
        )
    now = state.now()
    expires_at = get_int(params, "expires_at")
    if expires_at is None:
        expires_at = now + MAX_LIFETIME
    elif expires_at < now + MIN_LIFETIME:
        raise invalid_param(
            "expires_at",
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
        )
    elif expires_at > now + MAX_LIFETIME:
        raise invalid_param(
            "expires_at",
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
        )
    fields = {
        "cancel_url": _url(params, "cancel_url"),
        "success_url": _url(params, "success_url"),
        "client_reference_id": get_str(params, "client_reference_id"),
        "customer_email": _email(params, "customer_email"),
        "metadata": get_metadata(params),
        "payment_method_types": _payment_method_types(params, currency),
        "locale": get_str(params, "locale"),
        "submit_type": get_str(params, "submit_type", choices=("auto", "book", "donate", "pay", "subscribe")),
        "billing_address_collection": get_str(
            params, "billing_address_collection", choices=("auto", "required")
        ),
        "customer_creation": get_str(params, "customer_creation", choices=("always", "if_required")),
        "allow_promotion_codes": _bool(params, "allow_promotion_codes"),
    }
    if fields["client_reference_id"] and len(fields["client_reference_id"]) > 200:
        raise invalid_param("client_reference_id", "client_reference_id must be at most 200 characters.")
    intent_data = _intent_data(params)
    with state.lock:
        session = objects.checkout_session(
            session_id=objects.new_id("cs_test_", 58),
            created=now,
            expires_at=expires_at,
            public_url=state.public_url,
            params=fields,
            amount=amount,
            currency=currency,
        )
        state.sessions[session["id"]] = session
        state.line_items[session["id"]] = [
            objects.line_item(price_data=item["price_data"], quantity=item["quantity"], created=now)
            for item in items
        ]
        state.intent_data[session["id"]] = intent_data
        return session


def _line_items(params):
    items = params.get("line_items")
    if items in (None, ""):
        raise missing_param("line_items")
    if not isinstance(items, list) or not items:
        raise invalid_param("line_items", "Invalid array")
    if len(items) > 100:
        raise invalid_param("line_items", "You may only specify up to 100 line items.")
    cleaned = []
    for index, item in enumerate(items):
        label = f"line_items[{index}]"
        if not isinstance(item, dict):
            raise invalid_param(label, "Invalid hash")
        reject_unknown(item, {"price_data", "quantity", "price"}, label)
        if item.get("price"):
            raise StripeError(
                f"No such price: '{item['price']}'", code="resource_missing", param=f"{label}[price]"
            )
        data = item.get("price_data")
        if not isinstance(data, dict):
            raise missing_param(f"{label}[price_data]")
        reject_unknown(data, {"currency", "unit_amount", "product_data"}, f"{label}[price_data]")
        currency = get_str(data, "currency", required=True, label=f"{label}[price_data][currency]")
        if len(currency) != 3 or not currency.isalpha():
            raise invalid_param(
                f"{label}[price_data][currency]", f"Invalid currency: {currency}", "invalid_currency"
            )
        unit_amount = get_int(
            data, "unit_amount", required=True, minimum=0, label=f"{label}[price_data][unit_amount]"
        )
        product = data.get("product_data")
        if not isinstance(product, dict):
            raise missing_param(f"{label}[price_data][product_data]")
        name = get_str(product, "name", required=True, label=f"{label}[price_data][product_data][name]")
        quantity = get_int(item, "quantity", required=True, minimum=1, label=f"{label}[quantity]")
        cleaned.append(
            {
                "price_data": {
                    "currency": currency.lower(),
                    "unit_amount": unit_amount,
                    "product_data": {"name": name},
                },
                "quantity": quantity,
            }
        )
    if len({item["price_data"]["currency"] for item in cleaned}) > 1:
        raise invalid_param("line_items", "All line items must use the same currency.")
    return cleaned


def _url(params, name):
    url = get_str(params, name)
    if url is not None and not url.startswith(("http://", "https://")):
        raise invalid_param(name, "Not a valid URL", "url_invalid")
    return url


def _email(params, name):
    email = get_str(params, name)
    if email is not None and ("@" not in email or email.startswith("@") or email.endswith("@")):
        raise invalid_param(name, f"Invalid email address: {email}", "email_invalid")
    return email


def _bool(params, name):
    value = params.get(name)
    if value in (None, ""):
        return None
    if value not in ("true", "false"):
        raise invalid_param(name, f"Invalid boolean: {value}")
    return value == "true"


def _payment_method_types(params, currency):
    types = params.get("payment_method_types")
    if types in (None, ""):
        return ["card", "us_bank_account"] if currency == "usd" else ["card"]
    if not isinstance(types, list) or not types:
        raise invalid_param("payment_method_types", "Invalid array")
    for index, kind in enumerate(types):
        if kind not in PAYMENT_METHOD_TYPES:
            raise invalid_param(
                f"payment_method_types[{index}]",
                f"The sandbox supports payment method types {', '.join(PAYMENT_METHOD_TYPES)}; got `{kind}`.",
            )
    if "us_bank_account" in types and currency != "usd":
        raise invalid_param(
            "payment_method_types",
            f"The payment method `us_bank_account` does not support the currency `{currency}`.",
        )
    return list(dict.fromkeys(types))


def _intent_data(params):
    data = params.get("payment_intent_data")
    if data in (None, ""):
        data = {}
    if not isinstance(data, dict):
        raise invalid_param("payment_intent_data", "Invalid hash")
    reject_unknown(data, _INTENT_PARAMS, "payment_intent_data")
    return {
        "metadata": get_metadata(data, label="payment_intent_data[metadata]"),
        "description": get_str(data, "description"),
        "receipt_email": get_str(data, "receipt_email"),
        "statement_descriptor_suffix": get_str(data, "statement_descriptor_suffix"),
    }


def expire_session(state, session_id):
    """Expire an open session (the ``/expire`` endpoint); 400 if it is not open."""
    with state.lock:
        session = state.get("checkout.session", session_id)
        if session["status"] != "open":
            raise StripeError(
                'Only Checkout Sessions with a status in ["open"] can be expired. '
                f"This Checkout Session has a status of `{session['status']}`."
            )
        _expire(state, session)
        return session


def expire_due(state):
    """Expire every open session whose ``expires_at`` has passed on the sandbox clock."""
    now = state.now()
    for session in list(state.sessions.values()):
        if session["status"] == "open" and session["expires_at"] <= now:
            _expire(state, session)


def _expire(state, session):
    session["status"] = "expired"
    session["url"] = None
    intent = state.payment_intents.get(session["payment_intent"])
    if intent and intent["status"] == "requires_payment_method":
        intent["status"] = "canceled"
        intent["canceled_at"] = state.now()
        intent["cancellation_reason"] = "abandoned"
    state.emit("checkout.session.expired", session)
