"""Merchants and their API keys. Keys are shown once and stored only as a SHA-256 hash.

The API authenticates with :func:`merchant_for_api_key`; the API, the dashboard and the CLI
manage keys with :func:`create_api_key` (or :func:`issue_api_key`), :func:`list_api_keys`,
:func:`revoke_api_key` and :func:`roll_api_key`. None of them commits: the caller's
:func:`app.db.unit_of_work` does, and shows a new key only after that commit. A key's public id is
``key_<number>`` (:func:`api_key_id`); a key object never holds the key itself, except in the
one response that creates it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from .errors import AuthenticationFailed, Conflict, InvalidRequest, NotFound
from .extensions import db
from .models import ApiKey, Merchant, id_number, utcnow
from .payments.serializers import rfc3339

#: A key is ``mk_live_…`` or ``mk_test_…``; keys from before test mode are ``mk_…`` and live.
API_KEY_MODE_PREFIXES = {True: "mk_live_", False: "mk_test_"}

#: ``last_used_at`` is written at most this often per key, so busy keys cost no write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: The longest a rolled key may keep working (Stripe offers up to 7 days).
MAX_ROLL_EXPIRY = timedelta(days=7)
API_KEY_ID_PREFIX = "key_"
#: How much of a key is kept to recognise it (``prefix``): ``mk_live_`` and 4 random characters,
#: as many as Stripe shows of a secret key. The rest is only hashed.
API_KEY_SHOWN_LENGTH = 12


def hash_api_key(key: str) -> str:
    """SHA-256 hex digest of an API key (keys are 256-bit random, so no salt or KDF is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(merchant_id: str, *, livemode: bool = True) -> tuple[ApiKey, str]:
    """Add a new API key for the merchant (live, or test with ``livemode`` false) to the unit of
    work; returns ``(key object, key)`` (the key is shown once, after the commit)."""
    key = API_KEY_MODE_PREFIXES[livemode] + secrets.token_urlsafe(32)
    row = ApiKey(
        merchant_id=merchant_id,
        key_hash=hash_api_key(key),
        prefix=key[:API_KEY_SHOWN_LENGTH],
        created_at=utcnow(),
        livemode=livemode,
    )
    db.session.add(row)
    return row, key


def issue_api_key(merchant: Merchant, *, livemode: bool = True) -> str:
    """Add a new API key for ``merchant`` to the unit of work and return it (``mk_live_…`` or,
    with ``livemode`` false, ``mk_test_…``; shown once)."""
    return create_api_key(merchant.id, livemode=livemode)[1]


def api_key_id(key: ApiKey) -> str:
    """The key's public id, ``key_<number>``: not secret, and scoped to its merchant."""
    return f"{API_KEY_ID_PREFIX}{key.id}"


def api_key_status(key: ApiKey, now: datetime | None = None) -> str:
    """``active``, ``expiring`` (rolled: works until ``expires_at``), ``expired`` or ``revoked``."""
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is None:
        return "active"
    return "expiring" if (now or utcnow()) < key.expires_at else "expired"


def api_key_to_dict(key: ApiKey, *, secret: str | None = None) -> dict[str, Any]:
    """The API key object: ``{"id": "key_…", "object": "api_key", "livemode", "prefix" (the
    first 12 characters: :data:`API_KEY_SHOWN_LENGTH`), "status", "created_at",
    "last_used_at", "expires_at", "revoked_at"}`` (times RFC 3339 UTC); ``secret`` (the key) is
    included only when given, at creation and roll."""
    body: dict[str, Any] = {
        "id": api_key_id(key),
        "object": "api_key",
        "livemode": key.livemode,
        "prefix": key.prefix,
        "status": api_key_status(key),
        "created_at": rfc3339(key.created_at),
        "last_used_at": rfc3339(key.last_used_at),
        "expires_at": rfc3339(key.expires_at),
        "revoked_at": rfc3339(key.revoked_at),
    }
    if secret is not None:
        body["secret"] = secret
    return body


def create_merchant(
    name: str, allowed_domains: list[str], support_email: str | None = None
) -> tuple[Merchant, str]:
    """Add a merchant with its first API key to the unit of work; returns ``(merchant, api_key)``.

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
    return merchant, issue_api_key(merchant)


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


def merchant_for_api_key(authorization: str | None) -> tuple[Merchant, bool, int | None]:
    """The merchant owning the ``Authorization: Bearer mk_…`` key, the key's mode (``livemode``:
    True for ``mk_live_…`` and pre-test-mode ``mk_…`` keys, False for ``mk_test_…``), and the
    key's id when its ``last_used_at`` is due to be written (None when it was written less than
    :data:`LAST_USED_RESOLUTION` ago): the caller then records the use with
    :func:`note_key_use`. A read only, so that most requests add no write.

    Raises :class:`AuthenticationFailed` when the header is missing or malformed, or the key
    is unknown, revoked or expired (from that instant on).
    """
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthenticationFailed("Provide your API key as 'Authorization: Bearer mk_…'.")
    found = db.session.execute(
        sa.select(Merchant, ApiKey.id, ApiKey.last_used_at, ApiKey.livemode)
        .join(ApiKey)
        .where(
            ApiKey.key_hash == hash_api_key(key.strip()),
            ApiKey.revoked_at.is_(None),
            sa.or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > utcnow()),
        )
    ).first()
    if found is None:
        raise AuthenticationFailed("Invalid API key provided.")
    merchant, key_id, last_used_at, livemode = found
    if last_used_at is not None and utcnow() - last_used_at < LAST_USED_RESOLUTION:
        return merchant, livemode, None
    return merchant, livemode, key_id


def note_key_use(key_id: int) -> None:
    """Set the key's ``last_used_at`` to now unless another request set it less than
    :data:`LAST_USED_RESOLUTION` ago (a conditional UPDATE, so concurrent requests write it
    once). Adds to the unit of work."""
    now = utcnow()
    db.session.execute(
        sa.update(ApiKey)
        .where(
            ApiKey.id == key_id,
            sa.or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def api_keys_query(merchant_id: str, livemode: bool | None = None) -> sa.Select[tuple[ApiKey]]:
    """The merchant's keys, active, expired and revoked, of one mode unless ``livemode`` is
    None (unordered: for lists to page)."""
    query = sa.select(ApiKey).where(ApiKey.merchant_id == merchant_id)
    return query if livemode is None else query.where(ApiKey.livemode == livemode)


def list_api_keys(merchant_id: str, livemode: bool | None = None) -> list[ApiKey]:
    """The merchant's keys (of mode ``livemode`` unless None), active and revoked, newest first
    (only prefixes: keys are hashed)."""
    query = api_keys_query(merchant_id, livemode).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    return list(db.session.scalars(query).all())


def get_api_key(merchant_id: str, key_id: int | str, livemode: bool | None = None) -> ApiKey:
    """The merchant's key by number or public id (``key_12``), of mode ``livemode`` unless it
    is None. Raises :class:`NotFound` for an unknown, malformed, another merchant's or (with
    ``livemode``) the other mode's id."""
    text = key_id.removeprefix(API_KEY_ID_PREFIX) if isinstance(key_id, str) else str(key_id)
    number = id_number(text, ApiKey.id)
    key = db.session.get(ApiKey, number) if number is not None else None
    if key is None or key.merchant_id != merchant_id or livemode not in (None, key.livemode):
        raise NotFound(f"No such API key: {key_id!r}.", param="id")
    return key


def revoke_api_key(merchant_id: str, key_id: int | str, livemode: bool | None = None) -> ApiKey:
    """Revoke the merchant's key ``key_id`` (number or ``key_…``): it answers 401 once the unit of
    work commits; returns it. Revoking a revoked key changes nothing. Raises :class:`NotFound`
    for an unknown or another merchant's key (or, with ``livemode``, the other mode's)."""
    key = get_api_key(merchant_id, key_id, livemode)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def roll_api_key(
    merchant_id: str, key_id: int | str, expires_in: int, livemode: bool | None = None
) -> tuple[ApiKey, str]:
    """Replace the merchant's key ``key_id`` with a new one: the old key keeps working for
    ``expires_in`` seconds (0: it stops now; at most 7 days, as Stripe's "roll key" offers),
    then answers 401. The new key has the old one's mode. Returns ``(new key object, new
    key)``; the key is shown once.

    Raises :class:`NotFound` as :func:`get_api_key`; :class:`InvalidRequest` (``expires_in``)
    for a value out of range; :class:`Conflict` ``api_key_inactive`` for a revoked or expired
    key. Rolling a key that is already expiring brings its expiry forward, never back.
    """
    if not 0 <= expires_in <= MAX_ROLL_EXPIRY.total_seconds():
        raise InvalidRequest(
            f"Invalid expires_in: must be 0 to {int(MAX_ROLL_EXPIRY.total_seconds())} seconds.",
            param="expires_in",
        )
    key = get_api_key(merchant_id, key_id, livemode)
    now = utcnow()
    if api_key_status(key, now) in ("revoked", "expired"):
        raise Conflict(f"The API key {api_key_id(key)} is no longer active.", code="api_key_inactive")
    expires_at = now + timedelta(seconds=expires_in)
    key.expires_at = expires_at if key.expires_at is None else min(key.expires_at, expires_at)
    return create_api_key(merchant_id, livemode=key.livemode)


def revoke_api_keys(merchant: Merchant) -> int:
    """Revoke every active key of ``merchant``; returns how many. Does not commit."""
    result = db.session.execute(
        sa.update(ApiKey)
        .where(ApiKey.merchant_id == merchant.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
