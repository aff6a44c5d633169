"""Rate limits (Flask-Limiter; the ``limiter`` object lives in :mod:`app.extensions`).

What is limited, each by a setting of :mod:`app.config` (``RATE_LIMITS``):

- the merchant API, per API key: reads (``GET``) and writes (``POST``/``DELETE``) separately;
- the merchant API, per client address: failed authentications (401s), so that guessing keys
  is slow; once over the limit, that address gets 429 on the API until the window ends;
- the shopper pages ``/checkout/success`` (each hit asks Stripe for the Checkout Session) and
  ``/pay/<id>``, per client address.

The client address is ``request.remote_addr``: behind a proxy, the proxy-fixed one. A limited
request is refused before it reaches the database or Stripe.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from flask import Blueprint, Response, current_app, request
from flask_limiter import RouteLimit
from flask_limiter.util import get_remote_address

from .extensions import limiter


def configured(setting: str) -> Callable[[], str]:
    """A limit provider reading ``setting`` (e.g. ``"100 per second"``) from the app's config
    at request time, so that configuration (and tests) can change it."""
    return lambda: str(current_app.config[setting])


def api_key_identity() -> str:
    """Rate-limit key of an API request: a hash of its ``Authorization`` header (the key itself
    never reaches the limiter's storage), or the client address when there is none."""
    authorization = request.headers.get("Authorization")
    if not authorization:
        return "address:" + get_remote_address()
    return "key:" + hashlib.sha256(authorization.encode()).hexdigest()[:32]


def _unauthenticated(response: Response) -> bool:
    return response.status_code == 401


def limit_api(bp: Blueprint) -> None:
    """Apply the merchant API's limits to every endpoint of ``bp`` (see module doc)."""
    limiter.shared_limit(
        configured("RATELIMIT_API_READS"), scope="api-reads", key_func=api_key_identity, methods=["GET"]
    )(bp)
    limiter.shared_limit(
        configured("RATELIMIT_API_WRITES"),
        scope="api-writes",
        key_func=api_key_identity,
        methods=["POST", "DELETE"],
    )(bp)
    limiter.shared_limit(
        configured("RATELIMIT_AUTH_FAILURES"),
        scope="api-auth-failures",
        key_func=get_remote_address,
        deduct_when=_unauthenticated,
    )(bp)


def per_address(setting: str) -> RouteLimit:
    """Decorator: limit a view per client address to the limit named by ``setting``."""
    return limiter.limit(configured(setting), key_func=get_remote_address)


def retry_after_seconds() -> int:
    """Whole seconds until the limit that refused the current request lets requests in again
    (at least 1): the value of the 429's ``Retry-After`` header (RFC 9110, 10.2.3)."""
    current = limiter.current_limit
    if current is None:
        return 1
    return max(1, math.ceil(current.reset_at - time.time()))
