"""Merchants and their API keys. Keys are shown once and stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa

from .errors import AuthenticationFailed, InvalidRequest
from .extensions import db
from .models import ApiKey, Merchant, utcnow

API_KEY_PREFIX = "mk_"


def hash_api_key(key: str) -> str:
    """SHA-256 hex digest of an API key (keys are 256-bit random, so no salt or KDF is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def issue_api_key(merchant: Merchant) -> str:
    """Add a new API key for ``merchant`` to the unit of work and return it (``mk_…``, shown once)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiKey(merchant_id=merchant.id, key_hash=hash_api_key(key), prefix=key[:10]))
    return key


def create_merchant(name: str, allowed_domains: list[str]) -> tuple[Merchant, str]:
    """Create a merchant with its first API key; commits and returns ``(merchant, api_key)``.

    ``allowed_domains`` are host names (``shop.example``, ``localhost``) that ``success_url``
    and ``cancel_url`` may point at. Raises :class:`InvalidRequest` for an empty name or list.
    """
    name = name.strip()
    domains = [d.strip().lower() for d in allowed_domains if d.strip()]
    if not name:
        raise InvalidRequest("name must not be empty.", param="name")
    if not domains:
        raise InvalidRequest("At least one allowed domain is required.", param="allowed_domain")
    merchant = Merchant(name=name, allowed_domains=domains)
    db.session.add(merchant)
    db.session.flush()
    key = issue_api_key(merchant)
    db.session.commit()
    return merchant, key


def merchant_for_api_key(authorization: str | None) -> Merchant:
    """The merchant owning the ``Authorization: Bearer mk_…`` key.

    Raises :class:`AuthenticationFailed` when the header is missing or malformed, or the key
    is unknown or revoked.
    """
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthenticationFailed("Provide your API key as 'Authorization: Bearer mk_…'.")
    merchant = db.session.scalars(
        sa.select(Merchant)
        .join(ApiKey)
        .where(ApiKey.key_hash == hash_api_key(key.strip()), ApiKey.revoked_at.is_(None))
    ).first()
    if merchant is None:
        raise AuthenticationFailed("Invalid API key provided.")
    return merchant


def revoke_api_keys(merchant: Merchant) -> int:
    """Revoke every active key of ``merchant``; returns how many. Does not commit."""
    result = db.session.execute(
        sa.update(ApiKey)
        .where(ApiKey.merchant_id == merchant.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
