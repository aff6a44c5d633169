"""Products, Prices and Customers, sessions built from them, and the API's headers and error bodies."""

import pytest
import stripe


@pytest.fixture
def tea_towel(client):
    """An active $12.50 price (lookup key ``tea_towel``) of a product "Tea towel"."""
    product = client.v1.products.create(params={"name": "Tea towel", "metadata": {"sku": "TT-1"}})
    return client.v1.prices.create(
        params={"product": product.id, "currency": "USD", "unit_amount": 1250, "lookup_key": "tea_towel"}
    )


def test_products_and_prices_create_retrieve_list(client, tea_towel):
    assert tea_towel.currency == "usd" and tea_towel.unit_amount == 1250 and tea_towel.active is True
    assert client.v1.prices.retrieve(tea_towel.id).to_dict() == tea_towel.to_dict()
    product = client.v1.products.retrieve(tea_towel.product)
    assert (product.name, product.metadata.to_dict()) == ("Tea towel", {"sku": "TT-1"})
    expanded = client.v1.prices.retrieve(tea_towel.id, params={"expand": ["product"]})
    assert expanded.product.id == product.id

    archived = client.v1.prices.create(
        params={"product_data": {"name": "Old mug"}, "currency": "usd", "unit_amount": 900, "active": False}
    )
    assert [p.id for p in client.v1.prices.list(params={"active": True}).data] == [tea_towel.id]
    assert [p.id for p in client.v1.prices.list(params={"active": False}).data] == [archived.id]
    by_key = client.v1.prices.list(params={"lookup_keys": ["tea_towel", "nothing"]})
    assert [p.id for p in by_key.data] == [tea_towel.id]
    assert [p.name for p in client.v1.products.list(params={"active": True}).data] == ["Old mug", "Tea towel"]


def test_lookup_keys_are_unique_unless_transferred(client, tea_towel):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.prices.create(
            params={
                "product": tea_towel.product,
                "currency": "usd",
                "unit_amount": 1300,
                "lookup_key": "tea_towel",
            }
        )
    assert raised.value.param == "lookup_key"
    moved = client.v1.prices.create(
        params={
            "product": tea_towel.product,
            "currency": "usd",
            "unit_amount": 1300,
            "lookup_key": "tea_towel",
            "transfer_lookup_key": True,
        }
    )
    assert [p.id for p in client.v1.prices.list(params={"lookup_keys": ["tea_towel"]}).data] == [moved.id]


def test_unknown_price_product_and_customer_are_404_with_the_param(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.prices.retrieve("price_nope")
    assert raised.value.http_status == 404 and raised.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(
            params={"mode": "payment", "line_items": [{"price": "price_nope", "quantity": 1}]}
        )
    assert raised.value.param == "line_items[0][price]"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "customer": "cus_nope",
                "line_items": [
                    {
                        "price_data": {"currency": "usd", "unit_amount": 100, "product": "prod_nope"},
                        "quantity": 1,
                    }
                ],
            }
        )
    assert raised.value.param == "line_items[0][price_data][product]"


def test_session_from_a_price_id(sandbox, client, tea_towel):
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": tea_towel.id, "quantity": 2}],
            "success_url": "https://shop.example/done",
            "ui_mode": "hosted_page",
        }
    )
    assert (session.amount_total, session.currency, session.ui_mode) == (2500, "usd", "hosted_page")
    items = client.v1.checkout.sessions.line_items.list(session.id, params={"expand": ["data.price.product"]})
    assert items.data[0].price.id == tea_towel.id and items.data[0].description == "Tea towel"
    assert items.data[0].price.product.name == "Tea towel"


def test_inline_price_with_an_existing_product(client, tea_towel):
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {"currency": "usd", "unit_amount": 700, "product": tea_towel.product},
                    "quantity": 1,
                }
            ],
        }
    )
    item = client.v1.checkout.sessions.line_items.list(session.id).data[0]
    assert (item.price.product, item.price.active, item.amount_total) == (tea_towel.product, False, 700)


def test_inactive_price_is_refused(client):
    price = client.v1.prices.create(
        params={"product_data": {"name": "Gone"}, "currency": "usd", "unit_amount": 900, "active": False}
    )
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(
            params={"mode": "payment", "line_items": [{"price": price.id, "quantity": 1}]}
        )
    assert raised.value.param == "line_items[0][price]"


def test_customer_creation_always_makes_a_customer_from_what_the_shopper_typed(sandbox, client, tea_towel):
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": tea_towel.id, "quantity": 1}],
            "customer_creation": "always",
        }
    )
    assert session.customer is None
    sandbox.pay(session.id, email="grace@example.com", name="Grace Hopper")
    paid = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["customer", "payment_intent"]})
    assert (paid.customer_details.email, paid.customer_details.name) == ("grace@example.com", "Grace Hopper")
    assert (paid.customer.email, paid.customer.name) == ("grace@example.com", "Grace Hopper")
    assert paid.payment_intent.customer == paid.customer.id
    created = client.v1.events.list(params={"type": "customer.created"}).data
    assert [e.data.object.id for e in created] == [paid.customer.id]


def test_session_for_an_existing_customer(sandbox, client, tea_towel):
    customer = client.v1.customers.create(params={"email": "ada@example.com", "name": "Ada"})
    assert client.v1.customers.retrieve(customer.id).email == "ada@example.com"
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": tea_towel.id, "quantity": 1}],
            "customer": customer.id,
        }
    )
    assert session.customer == customer.id
    sandbox.pay(session.id, email="ada@work.example")
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert paid.customer == customer.id and paid.customer_details.email == "ada@work.example"
    assert client.v1.events.list(params={"type": "customer.created"}).data[0].data.object.id == customer.id
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [{"price": tea_towel.id, "quantity": 1}],
                "customer": customer.id,
                "customer_email": "x@example.com",
            }
        )


def test_ui_mode_of_the_current_api(client, session_params):
    assert client.v1.checkout.sessions.create(params=session_params()).ui_mode == "hosted_page"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(params=session_params(ui_mode="hosted"))
    assert raised.value.param == "ui_mode"


def _get(sandbox, path, **headers):
    return sandbox.http.get(f"{sandbox.url}{path}", headers={"Authorization": "Bearer sk_test_x", **headers})


def test_error_bodies_leave_out_absent_fields(sandbox):
    unknown_url = _get(sandbox, "/v1/nothing").json()["error"]
    assert set(unknown_url) == {"type", "message"}
    missing = _get(sandbox, "/v1/prices/price_x").json()["error"]
    assert set(missing) == {"type", "message", "code", "param", "doc_url"}
    no_key = sandbox.http.get(f"{sandbox.url}/v1/prices").json()["error"]
    assert None not in no_key.values()


def test_every_response_has_a_request_id(sandbox):
    for response in (
        _get(sandbox, "/v1/events"),
        _get(sandbox, "/v1/nothing"),
        sandbox.http.get(f"{sandbox.url}/_sandbox/health"),
    ):
        assert response.headers["Request-Id"].startswith("req_")
    ids = {_get(sandbox, "/v1/events").headers["Request-Id"] for _ in range(3)}
    assert len(ids) == 3


def test_stripe_version_header_is_echoed_and_checked(sandbox, client):
    assert _get(sandbox, "/v1/events").headers["Stripe-Version"] == stripe.api_version
    asked = _get(sandbox, "/v1/events", **{"Stripe-Version": "2024-06-20"})
    assert asked.status_code == 200 and asked.headers["Stripe-Version"] == "2024-06-20"
    bad = _get(sandbox, "/v1/events", **{"Stripe-Version": "yesterday"})
    assert bad.status_code == 400 and "yesterday" in bad.json()["error"]["message"]
    # The SDK sends its pinned version; the sandbox answers in it.
    raw = client.raw_request("get", "/v1/events")
    assert raw.headers["Stripe-Version"] == stripe.api_version
