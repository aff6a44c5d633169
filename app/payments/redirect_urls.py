"""The rules for a payment's redirect URLs (``success_url``, ``cancel_url``): https, on one of
the merchant's allowed domains."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic_core import PydanticCustomError

from app.request_bodies import MAX_URL_LENGTH

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
"""Hosts for which a plain ``http`` redirect URL is accepted (local development)."""

_UNSAFE_URL_CHARS = re.compile(r"[\s\\\x00-\x1f\x7f]")


def check_redirect_url(url: str, allowed_hosts: set[str]) -> None:
    """Raise PydanticCustomError unless ``url`` is an absolute https URL (http for local
    hosts) without credentials whose host is exactly one of ``allowed_hosts`` (lowercase)."""
    if len(url) > MAX_URL_LENGTH:
        raise PydanticCustomError(
            "url_too_long",
            "URLs can be at most {limit} characters long.",
            {"limit": MAX_URL_LENGTH},
        )
    if _UNSAFE_URL_CHARS.search(url):
        raise PydanticCustomError(
            "url_invalid",
            "URLs cannot contain whitespace, control characters or backslashes.",
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise PydanticCustomError("url_invalid", "Not a valid absolute URL.") from None
    if not host or parts.scheme not in ("http", "https"):
        raise PydanticCustomError(
            "url_invalid",
            "Must be an absolute URL such as 'https://shop.example/thanks'.",
        )
    if parts.username is not None or parts.password is not None:
        raise PydanticCustomError("url_invalid", "URLs cannot contain a user name or password.")
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        raise PydanticCustomError("url_invalid", "Must use https (http is only accepted for localhost).")
    if host not in allowed_hosts:
        raise PydanticCustomError(
            "url_host_not_allowed",
            "The host '{host}' is not one of your allowed domains.",
            {"host": host},
        )
