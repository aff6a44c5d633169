"""Merchants and their API keys. Keys are shown once and stored only as a SHA-256 hash.

The API authenticates with :func:`merchant_for_api_key`; the dashboard and the CLI manage keys
with :func:`issue_api_key`, :func:`list_api_keys` and :func:`revoke_api_key`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from .errors import AuthenticationFailed, InvalidRequest, NotFound
from .extensions import db
from .models import ApiKey, Merchant, utcnow

API_KEY_PREFIX = "mk_"

#: ``last_used_at`` is written at most this often per key, so busy keys cost no write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_api_key(key: str) -> str:
    """SHA-256 hex digest of an API key (keys are 256-bit random, so no salt or KDF is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def issue_api_key(merchant: Merchant) -> str:
    """Add a new API key for ``merchant`` to the unit of work and return it (``mk_…``, shown once)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiKey(merchant_id=merchant.id, key_hash=hash_api_key(key), prefix=key[:10]))
    return key


def create_merchant(
    name: str, allowed_domains: list[str], support_email: str | None = None
) -> tuple[Merchant, str]:
    """Create a merchant with its first API key; commits and returns ``(merchant, api_key)``.

    ``allowed_domains`` are host names (``shop.example``, ``localhost``) that ``success_url``
    and ``cancel_url`` may point at. ``support_email`` (optional) is shown on receipts.
    Raises :class:`InvalidRequest` for an empty name or list, or a ``support_email`` that is
    not one address (``local@domain``, at most 254 characters).
    """
    name = name.strip()
    domains = [d.strip().lower() for d in allowed_domains if d.strip()]
    if not name:
        raise InvalidRequest("name must not be empty.", param="name")
    if not domains:
        raise InvalidRequest("At least one allowed domain is required.", param="allowed_domain")
    support_email = support_email.strip() if support_email else None
    if support_email is not None and not _looks_like_email(support_email):
        raise InvalidRequest(
            f"support_email must be one email address, like help@shop.example; got {support_email!r}.",
            param="support_email",
        )
    merchant = Merchant(name=name, allowed_domains=domains, support_email=support_email)
    db.session.add(merchant)
    db.session.flush()
    key = issue_api_key(merchant)
    db.session.commit()
    return merchant, key


def _looks_like_email(text: str) -> bool:
    """One ``local@domain.tld`` address of at most 254 characters (RFC 5321's path limit),
    without spaces or a second ``@``: enough to refuse typos, not a full RFC 5322 parser."""
    local, at, domain = text.partition("@")
    return (
        bool(at and local and "." in domain.strip("."))
        and len(text) <= 254
        and "@" not in domain
        and not any(ch.isspace() or ch in '<>,;"' for ch in text)
    )


def merchant_for_api_key(authorization: str | None) -> Merchant:
    """The merchant owning the ``Authorization: Bearer mk_…`` key.

    Raises :class:`AuthenticationFailed` when the header is missing or malformed, or the key
    is unknown or revoked.
    """
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthenticationFailed("Provide your API key as 'Authorization: Bearer mk_…'.")
    found = db.session.execute(
        sa.select(Merchant, ApiKey.id, ApiKey.last_used_at)
        .join(ApiKey)
        .where(ApiKey.key_hash == hash_api_key(key.strip()), ApiKey.revoked_at.is_(None))
    ).first()
    if found is None:
        raise AuthenticationFailed("Invalid API key provided.")
    merchant, key_id, last_used_at = found
    _note_key_use(key_id, last_used_at)
    return merchant


def _note_key_use(key_id: int, last_used_at: datetime | None) -> None:
    """Set the key's ``last_used_at`` if it is older than :data:`LAST_USED_RESOLUTION` (a
    conditional UPDATE, so concurrent requests write it once), committing at once: this runs
    before the request's own unit of work starts."""
    now = utcnow()
    if last_used_at is not None and now - last_used_at < LAST_USED_RESOLUTION:
        return
    db.session.execute(
        sa.update(ApiKey)
        .where(
            ApiKey.id == key_id,
            sa.or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def list_api_keys(merchant_id: str) -> list[ApiKey]:
    """The merchant's keys, active and revoked, newest first (only prefixes: keys are hashed)."""
    return list(
        db.session.scalars(
            sa.select(ApiKey)
            .where(ApiKey.merchant_id == merchant_id)
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        ).all()
    )


def revoke_api_key(merchant_id: str, key_id: int) -> None:
    """Revoke the merchant's key ``key_id`` (it answers 401 from now on); commits. Revoking a
    revoked key changes nothing. Raises :class:`NotFound` for an unknown or another merchant's key."""
    key = db.session.get(ApiKey, key_id)
    if key is None or key.merchant_id != merchant_id:
        raise NotFound(f"No such API key: {key_id!r}.", param="id")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    db.session.commit()


def revoke_api_keys(merchant: Merchant) -> int:
    """Revoke every active key of ``merchant``; returns how many. Does not commit."""
    result = db.session.execute(
        sa.update(ApiKey)
        .where(ApiKey.merchant_id == merchant.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
