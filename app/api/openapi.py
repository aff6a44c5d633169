"""The API's documents, served without an API key: ``GET /api/v1/openapi.json`` (the OpenAPI 3
description, ``openapi.json`` beside this module) and ``GET /api/v1/errors/<code>`` (what an error
code means: the target of every error's ``doc_url``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Response

from ..errors import NotFound
from ..responses import json_response
from . import bp
from .error_docs import ERROR_CODES, error_code_to_dict

SPEC_PATH = Path(__file__).with_name("openapi.json")


@cache
def spec() -> dict[str, Any]:
    """The OpenAPI document, loaded once."""
    return json.loads(SPEC_PATH.read_text())  # type: ignore[no-any-return]


@bp.get("/openapi.json")
def openapi() -> Response:
    """Serve the OpenAPI 3 document (no API key needed)."""
    return json_response(200, spec())


@bp.get("/errors/<code>")
def error_code(code: str) -> Response:
    """``{"object": "error_code", "code", "status", "type", "description"}``; 404 for an unknown code."""
    if code not in ERROR_CODES:
        raise NotFound(f"No such error code: {code!r}.", param="code")
    return json_response(200, error_code_to_dict(code))
