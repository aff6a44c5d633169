"""Every list pages as Stripe's do: ``limit``, ``starting_after``, ``ending_before``, ``created``
filters, a ``url``, and a 400 ``parameter_unknown`` for a query parameter it does not take."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.models import Delivery, MerchantEvent, WebhookEndpoint, new_id
from tests.helpers import payment_body
from tests.notifications.conftest import make_payment  # noqa: F401  (a fixture)

#: The endpoints' creation times: one per minute from this moment on.
START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


@pytest.fixture
def endpoints(app, merchant) -> list[str]:
    """Five webhook endpoints created a minute apart, oldest first (ids)."""
    ids = []
    with app.app_context():
        for n in range(5):
            endpoint = WebhookEndpoint(
                id=new_id("we"),
                merchant_id=merchant.id,
                url=f"https://hooks.example/{n}",
                enabled_events=["*"],
                secret_version=1,
                status="enabled",
                created_at=START + timedelta(minutes=n),
            )
            db.session.add(endpoint)
            ids.append(endpoint.id)
        db.session.commit()
    return ids


def listed(client, merchant, path, **params):
    response = client.get(path, query_string=params, headers=merchant.headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_a_list_has_its_url(client, merchant, endpoints):
    page = listed(client, merchant, "/api/v1/webhook_endpoints")
    assert page["url"] == "/api/v1/webhook_endpoints"
    assert [e["id"] for e in page["data"]] == endpoints[::-1]


def test_ending_before_returns_the_page_before_the_cursor(client, merchant, endpoints):
    newest_first = endpoints[::-1]
    last_page = listed(client, merchant, "/api/v1/webhook_endpoints", limit=2, starting_after=newest_first[1])
    assert [e["id"] for e in last_page["data"]] == newest_first[2:4]

    back = listed(client, merchant, "/api/v1/webhook_endpoints", limit=2, ending_before=newest_first[2])
    assert [e["id"] for e in back["data"]] == newest_first[0:2] and back["has_more"] is False
    back = listed(client, merchant, "/api/v1/webhook_endpoints", limit=1, ending_before=newest_first[2])
    assert [e["id"] for e in back["data"]] == [newest_first[1]] and back["has_more"] is True
    first = listed(client, merchant, "/api/v1/webhook_endpoints", ending_before=newest_first[0])
    assert first["data"] == [] and first["has_more"] is False


def test_created_filters_take_unix_seconds(client, merchant, endpoints):
    def ids(**params):
        return [e["id"] for e in listed(client, merchant, "/api/v1/webhook_endpoints", **params)["data"]]

    third = unix(START + timedelta(minutes=2))
    assert ids(**{"created[gte]": third}) == endpoints[:1:-1]
    assert ids(**{"created[gt]": third}) == endpoints[:2:-1]
    assert ids(**{"created[lt]": third}) == endpoints[1::-1]
    assert ids(**{"created[lte]": third}) == endpoints[2::-1]
    assert ids(created=third) == [endpoints[2]]
    assert ids(**{"created[gt]": unix(START), "created[lt]": third}) == [endpoints[1]]


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/payments", "stauts"),
        ("/api/v1/events", "types"),
        ("/api/v1/webhook_endpoints", "starting_before"),
        ("/api/v1/payments", "created[since]"),
    ],
)
def test_an_unknown_query_parameter_is_a_400_naming_it(client, merchant, path, param):
    response = client.get(path, query_string={param: "x"}, headers=merchant.headers)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["param"]) == ("parameter_unknown", param)


@pytest.mark.parametrize(
    "params",
    [{"created[gt]": "yesterday"}, {"created": "-5"}, {"created[lte]": "1e9"}, {"created": "9" * 40}],
)
def test_a_bad_created_filter_is_a_400_naming_it(client, merchant, params):
    response = client.get("/api/v1/payments", query_string=params, headers=merchant.headers)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["param"]) == ("parameter_invalid", next(iter(params)))


def test_both_cursors_at_once_or_a_foreign_cursor_is_a_400(client, merchant, make_merchant, endpoints):
    both = {"starting_after": endpoints[0], "ending_before": endpoints[1]}
    assert (
        client.get("/api/v1/webhook_endpoints", query_string=both, headers=merchant.headers).status_code
        == 400
    )
    other = make_merchant("Other")
    foreign = client.get(f"/api/v1/webhook_endpoints?ending_before={endpoints[0]}", headers=other.headers)
    assert foreign.status_code == 400 and foreign.get_json()["error"]["param"] == "ending_before"


def test_deliveries_page_like_every_list(app, client, merchant, endpoints, make_payment):  # noqa: F811
    payment_id = make_payment(merchant.id)
    event_id = new_id("evt")
    with app.app_context():
        event = MerchantEvent(
            id=event_id,
            merchant_id=merchant.id,
            type="payment.succeeded",
            payment_id=payment_id,
            data={},
            created_at=START,
        )
        db.session.add(event)
        messages = []
        for n, endpoint_id in enumerate(endpoints):
            message = Delivery(
                id=new_id("msg"),
                event_id=event.id,
                endpoint_id=endpoint_id,
                status="pending",
                attempt_count=0,
                next_attempt_at=START,
                created_at=START + timedelta(seconds=n),
                updated_at=START,
            )
            db.session.add(message)
            messages.append(message.id)
        db.session.commit()
    path = f"/api/v1/events/{event_id}/deliveries"
    page = listed(client, merchant, path, limit=2)
    assert page["url"] == path and page["has_more"] is True
    assert [m["id"] for m in page["data"]] == messages[:2:-1]
    rest = listed(client, merchant, path, limit=3, starting_after=page["data"][-1]["id"])
    assert [m["id"] for m in rest["data"]] == messages[2::-1] and rest["has_more"] is False


def test_the_timeline_pages_back_with_ending_before(client, merchant, sandbox_ctl):
    payment = client.post("/api/v1/payments", json=payment_body(), headers=merchant.headers).get_json()
    path = f"/api/v1/payments/{payment['id']}/events"
    everything = listed(client, merchant, path)["data"]
    assert len(everything) >= 2
    back = listed(client, merchant, path, ending_before=everything[-1]["id"])
    assert back["data"] == everything[:-1] and back["url"] == path
    foreign = client.get(f"{path}?ending_before=abc", headers=merchant.headers)
    assert foreign.status_code == 400 and foreign.get_json()["error"]["param"] == "ending_before"


def test_the_timeline_is_at_its_own_name_and_at_the_older_events_path(client, merchant, sandbox_ctl):
    payment = client.post("/api/v1/payments", json=payment_body(), headers=merchant.headers).get_json()
    timeline = listed(client, merchant, f"/api/v1/payments/{payment['id']}/timeline")
    older = listed(client, merchant, f"/api/v1/payments/{payment['id']}/events")
    assert [e["type"] for e in timeline["data"]][:2] == ["payment.requested", "payment.open"]
    assert timeline["data"] == older["data"]
    assert timeline["url"] == f"/api/v1/payments/{payment['id']}/timeline"


def test_the_latest_accepted_time_does_not_overflow(client, merchant, endpoints):
    page = listed(client, merchant, "/api/v1/webhook_endpoints", **{"created[lte]": "253402300798"})
    assert len(page["data"]) == 5
    assert (
        listed(client, merchant, "/api/v1/webhook_endpoints", **{"created[gt]": "253402300798"})["data"] == []
    )
    too_late = client.get("/api/v1/payments?created=253402300799", headers=merchant.headers)
    assert too_late.status_code == 400
