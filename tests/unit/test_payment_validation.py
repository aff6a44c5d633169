"""Validation of payment, refund and webhook endpoint request bodies."""

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.api.pagination import parse_limit
from app.errors import InvalidRequest
from app.merchant_events import EVENT_TYPES
from app.notifications.endpoint_schemas import parse_webhook_endpoint_create
from app.payments.schemas import parse_payment_create, parse_refund_create
from tests.helpers import payment_body

DOMAINS = ["shop.example"]
VALID = payment_body(expires_in=3600)


def body(**changes):
    """VALID with top-level ``changes``; a value of ``...`` removes the field."""
    result = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is ...:
            del result[key]
        else:
            result[key] = value
    return result


def items(*line_items):
    return [{"name": "Item", "unit_amount": 100, "quantity": 1, **item} for item in line_items]


def error(data, domains=DOMAINS):
    with pytest.raises(InvalidRequest) as info:
        parse_payment_create(data, domains)
    return info.value


def assert_rejected(data, param, domains=DOMAINS):
    err = error(data, domains)
    assert err.param == param, err.message
    if param is not None:
        assert param in err.message
    return err.message


# --- the happy path -----------------------------------------------------------------------


def test_valid_body():
    payment = parse_payment_create(VALID, DOMAINS)
    assert payment.order_id == "A-1001"
    assert payment.currency == "usd"
    assert [(i.name, i.unit_amount, i.quantity) for i in payment.line_items] == [("T-shirt", 1500, 2)]
    assert payment.customer_email == "ada@example.com"
    assert payment.metadata == {"cart": "c_77"}
    assert payment.expires_in == 3600
    assert payment.success_url == "https://shop.example/thanks"
    assert payment.cancel_url == "https://shop.example/cart"
    assert payment.amount_total == 3000


def test_optional_fields_default():
    payment = parse_payment_create(body(customer_email=..., metadata=..., expires_in=...), DOMAINS)
    assert payment.customer_email is None
    assert payment.metadata == {}
    assert payment.expires_in == 86400


def test_fingerprint_is_stable_and_sensitive():
    first = parse_payment_create(VALID, DOMAINS).fingerprint()
    assert first == parse_payment_create(copy.deepcopy(VALID), DOMAINS).fingerprint()
    assert len(first) == 64 and int(first, 16) >= 0
    reordered = dict(reversed(list(VALID.items())))
    assert parse_payment_create(reordered, DOMAINS).fingerprint() == first
    # Normalisation happens before fingerprinting.
    assert parse_payment_create(body(currency="USD"), DOMAINS).fingerprint() == first
    assert parse_payment_create(body(order_id="A-1002"), DOMAINS).fingerprint() != first
    # Defaults are filled in before fingerprinting.
    assert (
        parse_payment_create(body(expires_in=86400), DOMAINS).fingerprint()
        == parse_payment_create(body(expires_in=...), DOMAINS).fingerprint()
    )


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "name": st.text(min_size=1, max_size=250),
                "unit_amount": st.integers(min_value=0, max_value=99_999),
                "quantity": st.integers(min_value=1, max_value=10_000),
            }
        ),
        min_size=1,
        max_size=100,
    ).filter(lambda li: 50 <= sum(i["unit_amount"] * i["quantity"] for i in li) <= 99_999_999)
)
def test_amount_total_is_the_sum_of_line_items(line_items):
    payment = parse_payment_create(body(line_items=line_items), DOMAINS)
    assert payment.amount_total == sum(i["unit_amount"] * i["quantity"] for i in line_items)


# --- body shape, required and unknown fields ------------------------------------------------


@pytest.mark.parametrize("data", [None, [], "x", 3, [VALID]])
def test_body_must_be_an_object(data):
    assert_rejected(data, None)


@pytest.mark.parametrize("field", ["order_id", "currency", "line_items", "success_url", "cancel_url"])
def test_required_fields(field):
    message = assert_rejected(body(**{field: ...}), field)
    assert message == f"Missing required parameter: {field}."


@pytest.mark.parametrize("field", ["name", "unit_amount", "quantity"])
def test_required_line_item_fields(field):
    item = {"name": "Item", "unit_amount": 100, "quantity": 1}
    del item[field]
    assert_rejected(body(line_items=[item]), f"line_items[0].{field}")


@pytest.mark.parametrize("field", ["status", "amount_total", "merchant_id", "id"])
def test_unknown_top_level_field(field):
    message = assert_rejected(body(**{field: "x"}), field)
    assert message == f"Unknown parameter: {field}."


def test_unknown_line_item_field():
    message = assert_rejected(body(line_items=items({}, {"tax": 5})), "line_items[1].tax")
    assert message == "Unknown parameter: line_items[1].tax."


# --- order_id, currency ----------------------------------------------------------------------


def test_order_id_length():
    assert parse_payment_create(body(order_id="x" * 64), DOMAINS).order_id == "x" * 64
    assert_rejected(body(order_id="x" * 65), "order_id")
    assert_rejected(body(order_id=""), "order_id")
    assert_rejected(body(order_id=1001), "order_id")


@pytest.mark.parametrize("currency", ["usd", "USD", "Usd"])
def test_currency_is_case_insensitive(currency):
    assert parse_payment_create(body(currency=currency), DOMAINS).currency == "usd"


@pytest.mark.parametrize("currency", ["xyz", "us", "", "dollars", 840, None])
def test_unsupported_currency(currency):
    assert_rejected(body(currency=currency), "currency")


# --- line items ------------------------------------------------------------------------------


def test_line_item_count():
    assert len(parse_payment_create(body(line_items=items(*[{}] * 100)), DOMAINS).line_items) == 100
    assert_rejected(body(line_items=items(*[{}] * 101)), "line_items")
    assert_rejected(body(line_items=[]), "line_items")
    assert_rejected(body(line_items={"name": "x"}), "line_items")


def test_line_item_name_length():
    parse_payment_create(body(line_items=items({"name": "n" * 250})), DOMAINS)
    assert_rejected(body(line_items=items({"name": "n" * 251})), "line_items[0].name")
    assert_rejected(body(line_items=items({"name": ""})), "line_items[0].name")


@pytest.mark.parametrize(("quantity", "ok"), [(0, False), (1, True), (10000, True), (10001, False)])
def test_quantity_bounds(quantity, ok):
    data = body(line_items=items({"quantity": quantity, "unit_amount": 50}))
    if ok:
        assert parse_payment_create(data, DOMAINS).line_items[0].quantity == quantity
    else:
        assert_rejected(data, "line_items[0].quantity")


@pytest.mark.parametrize("value", [1.0, "2", True, None])
def test_quantity_must_be_an_integer(value):
    assert_rejected(body(line_items=items({"quantity": value})), "line_items[0].quantity")


@pytest.mark.parametrize("value", [-1, 15.5, 1500.0, True, False, "1500", None, [1500]])
def test_unit_amount_must_be_a_non_negative_integer(value):
    data = body(line_items=items({}, {"unit_amount": value}))
    assert_rejected(data, "line_items[1].unit_amount")


def test_free_line_items_are_allowed_when_the_total_reaches_the_minimum():
    payment = parse_payment_create(body(line_items=items({"unit_amount": 0}, {"unit_amount": 50})), DOMAINS)
    assert payment.amount_total == 50


# --- totals and currency-specific amounts ----------------------------------------------------


def test_usd_minimum():
    parse_payment_create(body(line_items=items({"unit_amount": 50})), DOMAINS)
    message = assert_rejected(body(line_items=items({"unit_amount": 49})), "line_items")
    assert "$0.50" in message


def test_total_is_checked_not_each_item():
    parse_payment_create(body(line_items=items({"unit_amount": 25}, {"unit_amount": 25})), DOMAINS)
    assert_rejected(body(line_items=items({"unit_amount": 0})), "line_items")


def test_zero_decimal_minimum_jpy():
    payment = parse_payment_create(body(currency="jpy", line_items=items({"unit_amount": 50})), DOMAINS)
    assert payment.amount_total == 50
    message = assert_rejected(body(currency="jpy", line_items=items({"unit_amount": 49})), "line_items")
    assert "¥50" in message


def test_minimum_message_is_formatted_for_the_currency():
    message = assert_rejected(body(currency="gbp", line_items=items({"unit_amount": 29})), "line_items")
    assert "£0.30" in message


def test_three_decimal_amounts_must_end_in_zero():
    payment = parse_payment_create(
        body(currency="KWD", line_items=items({"unit_amount": 1230, "quantity": 3})),
        DOMAINS,
    )
    assert (payment.currency, payment.amount_total) == ("kwd", 3690)
    message = assert_rejected(
        body(
            currency="kwd",
            line_items=items({"unit_amount": 1230}, {"unit_amount": 1234}),
        ),
        "line_items[1].unit_amount",
    )
    assert "10" in message


def test_maximum_total():
    at_max = items({"unit_amount": 33_333_333, "quantity": 3})
    assert parse_payment_create(body(line_items=at_max), DOMAINS).amount_total == 99_999_999
    over = items({"unit_amount": 50_000_000, "quantity": 2})
    assert "$999,999.99" in assert_rejected(body(line_items=over), "line_items")
    assert_rejected(body(line_items=items({"unit_amount": 100_000_000})), "line_items")


# --- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["success_url", "cancel_url"])
@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example/thanks",  # http outside localhost
        "https://evil.example/thanks",  # other host
        "https://sub.shop.example/thanks",  # subdomain is not the host
        "https://shop.example.evil.example/",
        "https://shop.example.:443/",
        "https://user:pw@shop.example/thanks",  # userinfo
        "https://evil.example@shop.example/",
        "https://evil.example\\@shop.example/",
        "/thanks",  # relative
        "shop.example/thanks",
        "javascript://shop.example/%0aalert(1)",
        "ftp://shop.example/x",
        "https://shop.example:99999/",
        "https://shop.example/ x",
        "https://shop.example/\nx",
        "",
        "https://shop.example/" + "a" * 2030,  # 2051 characters
    ],
)
def test_bad_redirect_urls(field, url):
    assert_rejected(body(**{field: url}), field)


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/thanks?order=A-1001#top",
        "https://SHOP.Example/thanks",
        "https://shop.example:8443/thanks",
        "https://shop.example/" + "a" * 2027,  # exactly 2048 characters
    ],
)
def test_good_redirect_urls(url):
    assert parse_payment_create(body(success_url=url), DOMAINS).success_url == url


def test_allowed_domains_are_case_insensitive():
    parse_payment_create(VALID, ["Shop.EXAMPLE"])


def test_no_allowed_domains_rejects_everything():
    assert_rejected(VALID, "success_url", domains=[])


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("http://localhost:3000/thanks", "localhost"),
        ("http://127.0.0.1/thanks", "127.0.0.1"),
        ("http://[::1]:8000/thanks", "[::1]"),
        ("http://[::1]:8000/thanks", "::1"),
    ],
)
def test_http_allowed_for_local_hosts_in_allowed_domains(url, domain):
    data = body(success_url=url, cancel_url=url)
    assert parse_payment_create(data, [domain]).cancel_url == url
    assert_rejected(data, "success_url", domains=DOMAINS)


def test_url_must_be_a_string():
    assert_rejected(body(success_url=["https://shop.example/"]), "success_url")


# --- optional fields -------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["ada@example.com", "a.b+tag@mail.example.co.uk"])
def test_good_email(email):
    assert parse_payment_create(body(customer_email=email), DOMAINS).customer_email == email


@pytest.mark.parametrize(
    "email",
    ["ada", "ada@", "@example.com", "ada@example", "a da@example.com", "a@b@c.com", 5],
)
def test_bad_email(email):
    assert_rejected(body(customer_email=email), "customer_email")


def test_null_email_is_absent():
    assert parse_payment_create(body(customer_email=None), DOMAINS).customer_email is None


@pytest.mark.parametrize(("seconds", "ok"), [(1799, False), (1800, True), (86400, True), (86401, False)])
def test_expires_in_bounds(seconds, ok):
    if ok:
        assert parse_payment_create(body(expires_in=seconds), DOMAINS).expires_in == seconds
    else:
        assert_rejected(body(expires_in=seconds), "expires_in")


@pytest.mark.parametrize("seconds", [3600.0, "3600", True])
def test_expires_in_must_be_an_integer(seconds):
    assert_rejected(body(expires_in=seconds), "expires_in")


# --- metadata (Stripe's limits) --------------------------------------------------------------


def test_metadata_key_count():
    fifty = {f"k{i}": "v" for i in range(50)}
    assert parse_payment_create(body(metadata=fifty), DOMAINS).metadata == fifty
    assert_rejected(body(metadata={**fifty, "k50": "v"}), "metadata")


def test_metadata_key_length():
    parse_payment_create(body(metadata={"k" * 40: "v"}), DOMAINS)
    assert_rejected(body(metadata={"k" * 41: "v"}), "metadata")
    assert_rejected(body(metadata={"": "v"}), "metadata")


@pytest.mark.parametrize("key", ["a[b]", "[", "]", "items[0]"])
def test_metadata_key_without_brackets(key):
    assert key in assert_rejected(body(metadata={key: "v"}), "metadata")


def test_metadata_value_length():
    parse_payment_create(body(metadata={"cart": "v" * 500}), DOMAINS)
    parse_payment_create(body(metadata={"cart": ""}), DOMAINS)
    assert_rejected(body(metadata={"cart": "v" * 501}), "metadata.cart")


@pytest.mark.parametrize("value", [5, None, True, {"a": "b"}, ["x"]])
def test_metadata_values_must_be_strings(value):
    assert_rejected(body(metadata={"cart": value}), "metadata.cart")


@pytest.mark.parametrize("metadata", [["cart"], "cart=c_77", 5])
def test_metadata_must_be_an_object(metadata):
    assert_rejected(body(metadata=metadata), "metadata")


# --- refunds ---------------------------------------------------------------------------------


def test_refund_empty_body():
    refund = parse_refund_create({})
    assert (refund.amount, refund.reason, refund.metadata) == (None, None, {})


def test_refund_full_body():
    refund = parse_refund_create(
        {
            "amount": 500,
            "reason": "requested_by_customer",
            "metadata": {"ticket": "T-9"},
        }
    )
    assert (refund.amount, refund.reason, refund.metadata) == (
        500,
        "requested_by_customer",
        {"ticket": "T-9"},
    )


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": 5.0}, "amount"),
        ({"amount": "500"}, "amount"),
        ({"amount": True}, "amount"),
        ({"reason": "changed_mind"}, "reason"),
        ({"metadata": {"a[0]": "x"}}, "metadata"),
        ({"metadata": {"note": "x" * 501}}, "metadata.note"),
        ({"status": "succeeded"}, "status"),
        ([], None),
    ],
)
def test_refund_errors(data, param):
    with pytest.raises(InvalidRequest) as info:
        parse_refund_create(data)
    assert info.value.param == param


# --- webhook endpoints -----------------------------------------------------------------------


def test_webhook_endpoint():
    endpoint = parse_webhook_endpoint_create(
        {
            "url": "https://hooks.example/x",
            "enabled_events": list(EVENT_TYPES),
            "description": "d",
        }
    )
    assert endpoint.enabled_events == list(EVENT_TYPES)
    assert endpoint.description == "d"
    assert parse_webhook_endpoint_create({"url": "u", "enabled_events": ["*"]}).description is None


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"enabled_events": ["*"]}, "url"),
        ({"url": "https://h/x"}, "enabled_events"),
        ({"url": "https://h/x", "enabled_events": []}, "enabled_events"),
        ({"url": "https://h/x", "enabled_events": "*"}, "enabled_events"),
        (
            {"url": "https://h/x", "enabled_events": ["*", "charge.succeeded"]},
            "enabled_events[1]",
        ),
        ({"url": "https://h/" + "x" * 2040, "enabled_events": ["*"]}, "url"),
        ({"url": "", "enabled_events": ["*"]}, "url"),
        (
            {"url": "https://h/x", "enabled_events": ["*"], "description": "d" * 501},
            "description",
        ),
        ({"url": "https://h/x", "enabled_events": ["*"], "secret": "s"}, "secret"),
    ],
)
def test_webhook_endpoint_errors(data, param):
    with pytest.raises(InvalidRequest) as info:
        parse_webhook_endpoint_create(data)
    assert info.value.param == param


# --- list parameters -------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(None, 20), ("1", 1), ("100", 100), ("20", 20)])
def test_limit(value, expected):
    assert parse_limit(value) == expected


@pytest.mark.parametrize("value", ["0", "101", "-1", "", "ten", "1.5", " 5", "٣"])
def test_bad_limit(value):
    with pytest.raises(InvalidRequest) as info:
        parse_limit(value)
    assert info.value.param == "limit"
