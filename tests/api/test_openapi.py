"""``GET /api/v1/openapi.json``: a valid OpenAPI 3.1 document that matches the routes and responses.

The route comparison makes the document impossible to forget: adding, removing or renaming a
route under ``/api/v1`` without updating ``app/api/openapi.json`` fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from tests.helpers import payment_body

PREFIX = "/api/v1"
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture
def spec(client) -> dict[str, Any]:
    response = client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def flask_operations(app) -> set[tuple[str, str]]:
    """``(path, method)`` of every route under ``/api/v1``, paths in OpenAPI form (``{id}``)."""
    operations = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(PREFIX) :])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operations.add((path, method.lower()))
    return operations


def documented_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method) for path, item in spec["paths"].items() for method in item if method in HTTP_METHODS
    }


def schema_validator(spec: dict[str, Any], name: str) -> OAS31Validator:
    """A validator for ``#/components/schemas/<name>`` with the document's other components."""
    return OAS31Validator({"$ref": f"#/components/schemas/{name}", "components": spec["components"]})


def assert_matches(spec: dict[str, Any], name: str, instance: Any) -> None:
    errors = [e.message for e in schema_validator(spec, name).iter_errors(instance)]
    assert not errors, f"{name}: {errors}"


def test_the_document_is_a_valid_openapi_3_1_document_served_without_an_api_key(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    assert spec["servers"] == [{"url": PREFIX}]
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/openapi.json"]["get"]["security"] == []


def test_every_api_route_is_documented_and_every_documented_operation_exists(app, spec):
    in_code = flask_operations(app)
    in_document = documented_operations(spec)
    assert in_code, "no routes found under /api/v1"
    assert sorted(in_code - in_document) == [], "routes missing from app/api/openapi.json"
    assert sorted(in_document - in_code) == [], "documented operations that no route serves"


def test_every_operation_declares_its_path_parameters_and_errors(spec):
    for path, item in spec["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method in HTTP_METHODS & item.keys():
            operation = item[method]
            params = [
                spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
                for p in item.get("parameters", []) + operation.get("parameters", [])
            ]
            declared = {p["name"] for p in params if p["in"] == "path"}
            assert declared == names, f"{method.upper()} {path}: path parameters {declared} != {names}"
            responses = operation["responses"]
            assert any(status.startswith("2") for status in responses), f"{method.upper()} {path}"
            if operation.get("security") == []:  # public: /openapi.json, /errors/{code}
                continue
            assert "401" in responses, f"{method.upper()} {path} does not document 401"
            if names:
                assert "404" in responses, f"{method.upper()} {path} does not document 404"
            if method == "post":
                headers = {p["name"] for p in params if p["in"] == "header"}
                assert "Idempotency-Key" in headers, f"POST {path} does not take Idempotency-Key"
                assert {"400", "409", "422"} <= responses.keys(), f"POST {path}"


def test_documented_conflict_and_gateway_codes(spec):
    def codes(path: str, method: str, status: str) -> set[str]:
        examples = spec["paths"][path][method]["responses"][status]["content"]["application/json"]
        return {e["value"]["error"]["code"] for e in examples["examples"].values()}

    assert codes("/payments", "post", "409") == {"order_conflict", "idempotency_key_in_use"}
    assert codes("/payments", "post", "422") == {"idempotency_key_mismatch", "gateway_rejected"}
    assert codes("/payments", "post", "502") == {"gateway_unavailable"}
    assert "payment_not_expirable" in codes("/payments/{payment_id}/expire", "post", "409")
    assert codes("/payments/{payment_id}/refunds", "post", "409") == {
        "payment_not_refundable",
        "refund_exceeds_amount",
        "idempotency_key_in_use",
    }
    key = spec["components"]["parameters"]["IdempotencyKey"]
    assert key["in"] == "header" and key["schema"]["maxLength"] == 255


def test_real_responses_match_their_documented_schemas(client, merchant, sandbox_ctl, spec):
    created = client.post(f"{PREFIX}/payments", json=payment_body(), headers=merchant.headers)
    assert created.status_code == 201
    payment = created.get_json()
    assert_matches(spec, "Payment", payment)

    listed = client.get(f"{PREFIX}/payments", headers=merchant.headers)
    assert_matches(spec, "ListPayments", listed.get_json())

    timeline = client.get(f"{PREFIX}/payments/{payment['id']}/events", headers=merchant.headers)
    assert timeline.status_code == 200
    assert_matches(spec, "ListTimelineEntries", timeline.get_json())

    refunds = client.get(f"{PREFIX}/payments/{payment['id']}/refunds", headers=merchant.headers)
    assert_matches(spec, "ListRefunds", refunds.get_json())

    assert_matches(spec, "ListEvents", client.get(f"{PREFIX}/events", headers=merchant.headers).get_json())

    for response in (
        client.get(f"{PREFIX}/payments/pay_nope", headers=merchant.headers),
        client.get(f"{PREFIX}/payments"),
        client.post(f"{PREFIX}/payments", json=payment_body(order_id=""), headers=merchant.headers),
        client.post(f"{PREFIX}/payments", json=payment_body(), headers=merchant.headers),
    ):
        assert response.status_code in (400, 401, 404, 409)
        assert_matches(spec, "Error", response.get_json())
