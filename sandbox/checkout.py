"""Checkout Sessions: validation and creation, expiry."""

from . import objects
from .errors import StripeError, invalid_param, missing_param, no_such
from .money import MINIMUM_CHARGE, format_amount
from .wire import get_bool, get_currency, get_email, get_int, get_metadata, get_str, reject_unknown

MIN_LIFETIME = 30 * 60
MAX_LIFETIME = 24 * 60 * 60
# Payment method types the sandbox accepts, with the currencies Stripe allows for each (None:
# every currency; Stripe's "Payment method support", "Country and currency support"). Only card,
# us_bank_account, alipay and ideal can be paid on the hosted page; the others are accepted as
# Stripe would and shown as not simulated.
PAYMENT_METHOD_CURRENCIES = {
    "card": None,
    "link": None,
    "alipay": ("aud", "cad", "cny", "eur", "gbp", "hkd", "jpy", "myr", "nzd", "sgd", "usd"),
    "us_bank_account": ("usd",),
    "sepa_debit": ("eur",),
    "ideal": ("eur",),
    "bancontact": ("eur",),
    "eps": ("eur",),
    "p24": ("eur", "pln"),
}
PAYMENT_METHOD_TYPES = tuple(PAYMENT_METHOD_CURRENCIES)
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
    "customer",
}
_INTENT_PARAMS = {"metadata", "description", "receipt_email", "statement_descriptor_suffix"}


def create_session(state, params):
    """Validate create params like Stripe does and store a new open session."""
    reject_unknown(params, _CREATE_PARAMS)
    mode = get_str(params, "mode", required=True)
    if mode != "payment":
        raise invalid_param("mode", "The sandbox only supports `mode=payment`.")
    get_str(params, "ui_mode", choices=("hosted_page",))
    now = state.now()
    with state.lock:
        items = _line_items(state, params, now)
        customer = _customer(state, params)
    currency = items[0][0]["currency"]
    amount = sum(price["unit_amount"] * quantity for price, _, quantity in items)
    minimum = MINIMUM_CHARGE.get(currency)
    if minimum and amount < minimum:
        raise invalid_param(
            "line_items",
            "The Checkout Session's total amount due must add up to at least "
            f"{format_amount(minimum, currency)} {currency}",
        )
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
        "customer_email": get_email(params, "customer_email"),
        "metadata": get_metadata(params),
        "payment_method_types": _payment_method_types(params, currency),
        "locale": get_str(params, "locale"),
        "submit_type": get_str(params, "submit_type", choices=("auto", "book", "donate", "pay", "subscribe")),
        "billing_address_collection": get_str(
            params, "billing_address_collection", choices=("auto", "required")
        ),
        "customer_creation": get_str(params, "customer_creation", choices=("always", "if_required")),
        "allow_promotion_codes": get_bool(params, "allow_promotion_codes"),
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
        session["customer"] = customer
        state.sessions[session["id"]] = session
        for price, product, _ in items:
            state.products.setdefault(product["id"], product)
            state.prices.setdefault(price["id"], price)
        state.line_items[session["id"]] = [
            objects.line_item(price=price, description=product["name"], quantity=quantity)
            for price, product, quantity in items
        ]
        state.intent_data[session["id"]] = intent_data
        return session


def _line_items(state, params, now):
    """Validate ``line_items`` into ``[(price, product, quantity)]``; stores nothing.

    Each item names a Price (``price``, which must be active) or describes one
    inline (``price_data`` with ``product`` or ``product_data``); inline prices
    are new and inactive, like Stripe's, and ``product_data`` makes a new product.
    """
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
        quantity = get_int(item, "quantity", required=True, minimum=1, label=f"{label}[quantity]")
        if item.get("price") and item.get("price_data"):
            raise StripeError(
                f"You may only specify one of these parameters: {label}[price], {label}[price_data]."
            )
        if item.get("price"):
            price = _listed_price(state, item, label)
            product = state.products[price["product"]]
        else:
            price, product = _inline_price(state, item, label, now)
        cleaned.append((price, product, quantity))
    if len({price["currency"] for price, _, _ in cleaned}) > 1:
        raise invalid_param("line_items", "All line items must use the same currency.")
    return cleaned


def _listed_price(state, item, label):
    price_id = get_str(item, "price", label=f"{label}[price]")
    price = state.prices.get(price_id)
    if price is None:
        raise no_such("price", price_id, param=f"{label}[price]")
    if not price["active"]:
        raise invalid_param(
            f"{label}[price]", f"The price `{price_id}` is not active, and so cannot be used."
        )
    return price


def _inline_price(state, item, label, now):
    data = item.get("price_data")
    if not isinstance(data, dict):
        raise missing_param(f"{label}[price_data]")
    reject_unknown(data, {"currency", "unit_amount", "product_data", "product"}, f"{label}[price_data]")
    currency = get_currency(data, "currency", label=f"{label}[price_data][currency]")
    unit_amount = get_int(
        data, "unit_amount", required=True, minimum=0, label=f"{label}[price_data][unit_amount]"
    )
    product_id = get_str(data, "product", label=f"{label}[price_data][product]")
    product_data = data.get("product_data")
    if product_id:
        product = state.products.get(product_id)
        if product is None:
            raise no_such("product", product_id, param=f"{label}[price_data][product]")
    elif not isinstance(product_data, dict):
        raise missing_param(f"{label}[price_data][product_data]")
    else:
        prefix = f"{label}[price_data][product_data]"
        reject_unknown(product_data, {"name", "description", "metadata"}, prefix)
        product = objects.product(
            product_id=objects.new_id("prod_", 14),
            created=now,
            name=get_str(product_data, "name", required=True, label=f"{prefix}[name]"),
            description=get_str(product_data, "description"),
            metadata=get_metadata(product_data, label=f"{prefix}[metadata]"),
        )
    price = objects.price(
        created=now, currency=currency, unit_amount=unit_amount, product_id=product["id"], active=False
    )
    return price, product


def _customer(state, params):
    """The id of an existing ``customer`` the session is for, or None."""
    customer_id = get_str(params, "customer")
    if customer_id is None:
        return None
    if customer_id not in state.customers:
        raise no_such("customer", customer_id, param="customer")
    if params.get("customer_email"):
        raise StripeError("You may only specify one of these parameters: customer, customer_email.")
    if params.get("customer_creation"):
        raise invalid_param(
            "customer_creation", "`customer_creation` can only be used when `customer` is not set."
        )
    return customer_id


def _url(params, name):
    url = get_str(params, name)
    if url is not None and not url.startswith(("http://", "https://")):
        raise invalid_param(name, "Not a valid URL", "url_invalid")
    return url


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
    for kind in types:
        currencies = PAYMENT_METHOD_CURRENCIES[kind]
        if currencies is not None and currency not in currencies:
            raise invalid_param(
                "payment_method_types",
                f"The payment method `{kind}` does not support the currency `{currency}`.",
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
