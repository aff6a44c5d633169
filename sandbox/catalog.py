"""Products, Prices and Customers: creation with Stripe's validation, and list filters."""

from . import objects
from .errors import StripeError, invalid_param, missing_param, no_such
from .wire import get_bool, get_currency, get_email, get_int, get_metadata, get_str, reject_unknown

_PRODUCT_PARAMS = {"name", "id", "active", "description", "metadata", "expand"}
_PRICE_PARAMS = {
    "currency",
    "unit_amount",
    "product",
    "product_data",
    "active",
    "lookup_key",
    "nickname",
    "metadata",
    "recurring",
    "transfer_lookup_key",
    "expand",
}
_CUSTOMER_PARAMS = {"email", "name", "description", "phone", "metadata", "expand"}


def create_product(state, params):
    """``POST /v1/products``: ``name`` (required); ``id``, ``active``, ``description``, ``metadata``."""
    reject_unknown(params, _PRODUCT_PARAMS)
    name = get_str(params, "name", required=True)
    product_id = get_str(params, "id") or objects.new_id("prod_", 14)
    active = get_bool(params, "active")
    with state.lock:
        if product_id in state.products:
            raise StripeError(
                f"Product already exists: {product_id}", code="resource_already_exists", param="id"
            )
        product = objects.product(
            product_id=product_id,
            created=state.now(),
            name=name,
            active=True if active is None else active,
            description=get_str(params, "description"),
            metadata=get_metadata(params),
        )
        state.products[product_id] = product
        state.emit("product.created", product)
        return product


def create_price(state, params):
    """``POST /v1/prices``: a one-time price for ``product`` (an id) or a new ``product_data[name]``.

    A ``lookup_key`` already held by another price is refused unless
    ``transfer_lookup_key=true`` moves it, as Stripe does.
    """
    reject_unknown(params, _PRICE_PARAMS)
    if params.get("recurring") not in (None, ""):
        raise invalid_param("recurring", "The sandbox only supports one-time prices (no `recurring`).")
    currency = get_currency(params, "currency")
    unit_amount = get_int(params, "unit_amount", required=True, minimum=0)
    lookup_key = get_str(params, "lookup_key")
    transfer = get_bool(params, "transfer_lookup_key")
    active = get_bool(params, "active")
    with state.lock:
        product_id = _price_product(state, params)
        holder = _price_with_lookup_key(state, lookup_key)
        if holder is not None and not transfer:
            raise StripeError(
                f"A price (`{holder['id']}`) already uses that lookup key.",
                code="lookup_key_in_use",
                param="lookup_key",
            )
        if holder is not None:
            holder["lookup_key"] = None
        price = objects.price(
            created=state.now(),
            currency=currency,
            unit_amount=unit_amount,
            product_id=product_id,
            active=True if active is None else active,
            lookup_key=lookup_key,
            nickname=get_str(params, "nickname"),
            metadata=get_metadata(params),
        )
        state.prices[price["id"]] = price
        state.emit("price.created", price)
        return price


def _price_product(state, params):
    product_id = get_str(params, "product")
    data = params.get("product_data")
    if product_id and data:
        raise StripeError("You may only specify one of these parameters: product, product_data.")
    if product_id:
        if product_id not in state.products:
            raise no_such("product", product_id, param="product")
        return product_id
    if not isinstance(data, dict):
        raise missing_param("product")
    reject_unknown(data, {"name", "metadata"}, "product_data")
    return create_product(state, data)["id"]


def _price_with_lookup_key(state, lookup_key):
    if lookup_key is None:
        return None
    return next((p for p in state.prices.values() if p["lookup_key"] == lookup_key), None)


def price_filter(params):
    """Predicate for ``GET /v1/prices``: ``active``, ``product``, ``currency``, ``lookup_keys[]``."""
    active = get_bool(params, "active")
    product, currency = params.get("product"), params.get("currency")
    keys = params.get("lookup_keys")
    if keys is not None and not isinstance(keys, list):
        raise invalid_param("lookup_keys", "Invalid array")
    return lambda price: (
        active in (None, price["active"])
        and product in (None, price["product"])
        and currency in (None, price["currency"])
        and (keys is None or price["lookup_key"] in keys)
    )


def product_filter(params):
    """Predicate for ``GET /v1/products``: ``active`` and ``ids[]``."""
    active = get_bool(params, "active")
    ids = params.get("ids")
    if ids is not None and not isinstance(ids, list):
        raise invalid_param("ids", "Invalid array")
    return lambda product: active in (None, product["active"]) and (ids is None or product["id"] in ids)


def create_customer(state, params):
    """``POST /v1/customers``: optional ``email``, ``name``, ``description``, ``phone``, ``metadata``."""
    reject_unknown(params, _CUSTOMER_PARAMS)
    email = get_email(params, "email")
    with state.lock:
        return add_customer(
            state,
            email=email,
            name=get_str(params, "name"),
            description=get_str(params, "description"),
            phone=get_str(params, "phone"),
            metadata=get_metadata(params),
        )


def add_customer(state, *, email, name, **fields):
    """Store a new customer and emit ``customer.created`` (also used by Checkout's ``customer_creation``)."""
    customer = objects.customer(created=state.now(), email=email, name=name, **fields)
    state.customers[customer["id"]] = customer
    state.emit("customer.created", customer)
    return customer
