"""JSON responses, shared by every blueprint that answers in JSON (the API, Stripe's webhooks).

The error objects they carry are built in :mod:`app.errors` (:func:`~app.errors.error_object`).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response


def json_response(status: int, body: dict[str, Any]) -> Response:
    """A JSON response whose bytes are exactly what would be stored for replay."""
    return Response(json.dumps(body), status=status, mimetype="application/json")
