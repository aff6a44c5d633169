"""Fuzz the merchant API from its own OpenAPI document (schemathesis, in-process over WSGI) with a
valid API key: no generated request may get a 5xx, and answers must conform to the document."""

from __future__ import annotations

import time
from collections import Counter

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

#: Generated requests per operation and generation mode (valid, then invalid input).
EXAMPLES = 70
MINIMUM_REQUESTS = 2000


def test_no_generated_request_gets_a_5xx(app, merchant, sandbox_ctl, rate_limits):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case) -> None:
                response = case.call(headers=merchant.headers)
                statuses[response.status_code] += 1
                case.validate_response(
                    response,
                    checks=[not_a_server_error, content_type_conformance, response_schema_conformance],
                )

            fuzz()
    total = sum(statuses.values())
    print(f"schemathesis: {total} requests in {time.monotonic() - started:.1f} s; statuses {dict(statuses)}")
    assert total >= MINIMUM_REQUESTS
    assert not [status for status in statuses if status >= 500]
