"""Fixtures for the HTTP edge: rate limits set low for one test, a Stripe that counts its calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from app.extensions import limiter
from tests.helpers import gateway_replaced
from tests.support.sandbox import SandboxHandle
from tests.support.servers import ServerThread, free_port


@pytest.fixture
def rate_limits(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """``rate_limits(RATELIMIT_SUCCESS_PAGE="10 per minute", ...)`` for this test only; every
    counter starts (and is left) empty, so no other test ever sees these limits."""

    def set_limits(**limits: str) -> None:
        for name, value in limits.items():
            assert name in app.config, name
            monkeypatch.setitem(app.config, name, value)

    limiter.reset()
    yield set_limits
    limiter.reset()


class CountingStripe:
    """The sandbox behind a WSGI wrapper that counts the requests it receives by path prefix."""

    def __init__(self, sandbox: SandboxHandle) -> None:
        self.paths: list[str] = []
        self._sandbox = sandbox.wsgi
        self.server = ServerThread(self._app, free_port())

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.paths.append(environ["PATH_INFO"])
        return self._sandbox(environ, start_response)

    def calls(self, prefix: str) -> int:
        return sum(1 for path in self.paths if path.startswith(prefix))


@pytest.fixture
def counting_stripe(app: Flask, sandbox_server: SandboxHandle) -> Iterator[CountingStripe]:
    """The app talks to a Stripe that counts its calls (``.calls("/v1/checkout/sessions")``)."""
    stripe = CountingStripe(sandbox_server)
    try:
        with gateway_replaced(app, api_base=stripe.server.url):
            yield stripe
    finally:
        stripe.server.stop()
