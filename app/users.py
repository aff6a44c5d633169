"""Dashboard users: create, list, disable, and check a password at sign-in.

Passwords are hashed with Argon2id (``argon2-cffi``'s ``PasswordHasher`` defaults, RFC 9106's
second recommended parameter set); only the hash is stored. A generated password is 16 random
URL-safe bytes and is shown once.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import Conflict, InvalidRequest, NotFound
from .extensions import db
from .models import Merchant, User, new_id, utcnow

ROLES = ("admin", "viewer")
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()
#: Verified against when the email is unknown, so that an unknown email costs the same time as a
#: wrong password and the response time does not tell whether the account exists.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def normalise_email(email: str) -> str:
    """``email`` stripped and lower-cased (how it is stored and looked up)."""
    return email.strip().lower()


def create_user(merchant_id: str, email: str, role: str, password: str | None = None) -> tuple[User, str]:
    """Add a dashboard user for ``merchant_id`` to the unit of work; returns ``(user, password)``.

    Without ``password`` one is generated (shown once by the caller). Raises
    :class:`InvalidRequest` for an unknown merchant (``param="merchant"``), a malformed email,
    a role other than admin/viewer, or a password shorter than 12 characters;
    :class:`Conflict` ``email_taken`` when the email already has a user.
    """
    email = normalise_email(email)
    if db.session.get(Merchant, merchant_id) is None:
        raise InvalidRequest(f"No such merchant: {merchant_id!r}.", param="merchant")
    if "@" not in email or len(email) > 254 or email.startswith("@") or email.endswith("@"):
        raise InvalidRequest("Give a valid email address.", param="email")
    if role not in ROLES:
        raise InvalidRequest("role must be admin or viewer.", param="role")
    if password is None:
        password = secrets.token_urlsafe(16)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.", param="password"
        )
    if db.session.scalars(sa.select(User.id).where(User.email == email)).first() is not None:
        raise Conflict(f"A user with email {email!r} already exists.", code="email_taken", param="email")
    user = User(
        id=new_id("usr"),
        merchant_id=merchant_id,
        email=email,
        password_hash=_hasher.hash(password),
        role=role,
        created_at=utcnow(),
    )
    db.session.add(user)
    return user, password


def reset_password(email: str) -> str:
    """Give the user with ``email`` a new generated password and return it (shown once, after the
    caller's unit of work commits).
    Raises :class:`NotFound` when no user has that email."""
    user = _by_email(email)
    password = secrets.token_urlsafe(16)
    user.password_hash = _hasher.hash(password)
    return password


def _by_email(email: str) -> User:
    user = db.session.scalars(sa.select(User).where(User.email == normalise_email(email))).first()
    if user is None:
        raise NotFound(f"No user with email {email!r}.", param="email")
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None (unknown email, wrong password or
    disabled user alike, in about the same time). Records the sign-in time and upgrades an
    outdated hash (written when the caller's unit of work commits)."""
    user = db.session.scalars(sa.select(User).where(User.email == normalise_email(email))).first()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_sign_in_at = utcnow()
    return user


def active_user(user_id: str) -> User | None:
    """The user ``user_id`` if it exists and is not disabled (a session's owner), else None."""
    user = db.session.get(User, user_id)
    return user if user is not None and user.disabled_at is None else None


def list_users(merchant_id: str | None = None) -> list[User]:
    """Users, of one merchant or of all, ordered by merchant then email."""
    query = sa.select(User).order_by(User.merchant_id, User.email)
    if merchant_id is not None:
        query = query.where(User.merchant_id == merchant_id)
    return list(db.session.scalars(query).all())


def disable_user(email: str) -> User:
    """Disable the user with ``email``: they cannot sign in and their sessions end (once the
    caller's unit of work commits).
    Raises :class:`NotFound` when no user has that email."""
    user = _by_email(email)
    if user.disabled_at is None:
        user.disabled_at = utcnow()
    return user
