"""``GET /api/v1/openapi.json``: the OpenAPI 3 description of this API (``openapi.json`` beside it)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Response

from . import bp
from .idempotency import json_response

SPEC_PATH = Path(__file__).with_name("openapi.json")


@cache
def spec() -> dict[str, Any]:
    """The OpenAPI document, loaded once."""
    return json.loads(SPEC_PATH.read_text())  # type: ignore[no-any-return]


@bp.get("/openapi.json")
def openapi() -> Response:
    """Serve the OpenAPI 3 document (no API key needed)."""
    return json_response(200, spec())
