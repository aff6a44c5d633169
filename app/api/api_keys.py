"""``/api/v1/api_keys``: create, list, retrieve, revoke and roll the merchant's API keys.

The key itself (``secret``, ``mk_…``) is in the response only when it is made (create, roll).
Only its hash is stored, so the idempotency store keeps those responses with ``secret: null``
(``REDACTED_MEMBERS``) and a replay answers the key object without it: the key is shown once.

A key sees and manages the keys of its own mode. A live key may also create a test key
(``{"livemode": false}``); a test key cannot create a live one.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, request
from pydantic import Field, StrictBool, StrictInt

from ..db import unit_of_work
from ..errors import InvalidRequest
from ..merchants import (
    api_key_to_dict,
    api_keys_query,
    create_api_key,
    get_api_key,
    revoke_api_key,
    roll_api_key,
)
from ..models import ApiKey
from ..request_bodies import StrictModel, parse_model
from ..responses import json_response
from ..stripe_gateway import stripe_gateways
from . import bp
from .pagination import each, paginate
from .payments import idempotent, json_body


class ApiKeyRoll(StrictModel):
    """A validated ``POST /api/v1/api_keys/<id>/roll`` body (see ``parse_api_key_roll``)."""

    expires_in: StrictInt = Field(default=0, ge=0, le=7 * 86_400)
    """Seconds the rolled key keeps working (Stripe's roll offers now to 7 days)."""


def parse_api_key_roll(body: object) -> ApiKeyRoll:
    """Validate a key roll body: ``{}`` or ``{"expires_in": 0..604800}`` (seconds the old key
    keeps working; default 0, i.e. it stops at once). Raises ``InvalidRequest``."""
    return parse_model(ApiKeyRoll, body)


@bp.post("/api_keys")
def create_key() -> Response:
    """A new API key; 201 with the key object and its ``secret`` (shown once). Body (optional):
    ``{"livemode": bool}``, default the calling key's mode. 400 ``parameter_invalid`` (``livemode``)
    for a test key asking for a live key; 403 ``test_mode_unavailable`` for a test key when test
    mode is not configured."""
    merchant_id = g.merchant.id
    livemode = _requested_mode(json_body() if request.get_data() else {})

    def work() -> tuple[int, dict[str, Any]]:
        with unit_of_work():
            key, secret = create_api_key(merchant_id, livemode=livemode)
        return 201, api_key_to_dict(key, secret=secret)

    return idempotent(work, body=request.get_data())


class ApiKeyCreate(StrictModel):
    """A validated ``POST /api/v1/api_keys`` body: ``{}`` or ``{"livemode": bool}``."""

    livemode: StrictBool | None = None
    """The new key's mode; None: the calling key's."""


def _requested_mode(body: object) -> bool:
    """The mode of the key to create, from the create body (see :func:`create_key`)."""
    requested = parse_model(ApiKeyCreate, body).livemode
    livemode = g.livemode if requested is None else requested
    if livemode and not g.livemode:
        raise InvalidRequest("A test key cannot create a live key.", param="livemode")
    stripe_gateways().for_mode(livemode)  # 403 test_mode_unavailable when test mode is off
    return livemode


@bp.get("/api_keys")
def list_keys() -> Response:
    """The merchant's keys (active, expiring, expired, revoked), newest first; prefixes only."""
    page = paginate(
        api_keys_query(g.merchant.id, g.livemode), ApiKey, each(api_key_to_dict), id_prefix="key_"
    )
    return json_response(200, page)


@bp.get("/api_keys/<key_id>")
def retrieve_key(key_id: str) -> Response:
    """One key of the merchant (without the key itself)."""
    return json_response(200, api_key_to_dict(get_api_key(g.merchant.id, key_id, g.livemode)))


@bp.post("/api_keys/<key_id>/revoke")
def revoke_key(key_id: str) -> Response:
    """Revoke a key: from this moment on it is a 401. 200 with the key object."""
    merchant_id, livemode = g.merchant.id, g.livemode
    get_api_key(merchant_id, key_id, livemode)  # a 404 before any Idempotency-Key is claimed

    def work() -> tuple[int, dict[str, Any]]:
        with unit_of_work():
            key = revoke_api_key(merchant_id, key_id, livemode)
        return 200, api_key_to_dict(key)

    return idempotent(work)


@bp.post("/api_keys/<key_id>/roll")
def roll_key(key_id: str) -> Response:
    """A new key replacing ``key_id``, which keeps working ``expires_in`` seconds (body, 0 to
    604800; default 0); 201 with the new key object and its ``secret``."""
    merchant_id, livemode = g.merchant.id, g.livemode
    get_api_key(merchant_id, key_id, livemode)
    parsed = parse_api_key_roll(json_body() if request.get_data() else {})

    def work() -> tuple[int, dict[str, Any]]:
        with unit_of_work():
            key, secret = roll_api_key(merchant_id, key_id, parsed.expires_in, livemode)
        return 201, api_key_to_dict(key, secret=secret)

    return idempotent(work, body=request.get_data())
