"""``/api/v1/api_keys``: create, list, retrieve, revoke and roll the merchant's API keys.

The key itself (``secret``, ``mk_…``) is in the response only when it is made (create, roll).
Only its hash is stored, so the idempotency store keeps those responses with ``secret: null``
(``REDACTED_MEMBERS``) and a replay answers the key object without it: the key is shown once.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, request

from ..merchants import (
    api_key_to_dict,
    api_keys_query,
    create_api_key,
    get_api_key,
    revoke_api_key,
    roll_api_key,
)
from ..models import ApiKey
from ..payments.schemas import parse_api_key_roll
from . import bp
from .idempotency import json_response
from .pagination import each, paginate
from .payments import idempotent, json_body


@bp.post("/api_keys")
def create_key() -> Response:
    """A new API key; 201 with the key object and its ``secret`` (shown once). No body needed."""
    merchant_id = g.merchant.id

    def work() -> tuple[int, dict[str, Any]]:
        key, secret = create_api_key(merchant_id)
        return 201, api_key_to_dict(key, secret=secret)

    return idempotent(work)


@bp.get("/api_keys")
def list_keys() -> Response:
    """The merchant's keys (active, expiring, expired, revoked), newest first; prefixes only."""
    page = paginate(api_keys_query(g.merchant.id), ApiKey, each(api_key_to_dict), id_prefix="key_")
    return json_response(200, page)


@bp.get("/api_keys/<key_id>")
def retrieve_key(key_id: str) -> Response:
    """One key of the merchant (without the key itself)."""
    return json_response(200, api_key_to_dict(get_api_key(g.merchant.id, key_id)))


@bp.post("/api_keys/<key_id>/revoke")
def revoke_key(key_id: str) -> Response:
    """Revoke a key: from this moment on it is a 401. 200 with the key object."""
    merchant_id = g.merchant.id
    get_api_key(merchant_id, key_id)  # a 404 before any Idempotency-Key is claimed

    def work() -> tuple[int, dict[str, Any]]:
        return 200, api_key_to_dict(revoke_api_key(merchant_id, key_id))

    return idempotent(work)


@bp.post("/api_keys/<key_id>/roll")
def roll_key(key_id: str) -> Response:
    """A new key replacing ``key_id``, which keeps working ``expires_in`` seconds (body, 0 to
    604800; default 0); 201 with the new key object and its ``secret``."""
    merchant_id = g.merchant.id
    get_api_key(merchant_id, key_id)
    parsed = parse_api_key_roll(json_body() if request.get_data() else {})

    def work() -> tuple[int, dict[str, Any]]:
        key, secret = roll_api_key(merchant_id, key_id, parsed.expires_in)
        return 201, api_key_to_dict(key, secret=secret)

    return idempotent(work, body=request.get_data())
