"""Dashboard test support: users, payments inserted directly, a signed-in test client.

Plain functions and fixtures shared by ``tests/dashboard`` and ``tests/browser/test_dashboard*``
(which import the fixtures they use).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.db import unit_of_work
from app.extensions import limiter
from app.models import new_id, utcnow
from app.users import create_user
from tests.support.factories import insert_payment

PASSWORD = "correct horse battery staple"


@dataclass
class UserHandle:
    """A dashboard user made for a test."""

    id: str
    email: str
    password: str
    merchant_id: str


@pytest.fixture(autouse=True)
def _fresh_signin_limits(app: Flask) -> Iterator[None]:
    """Every test starts with no failed sign-ins counted (all tests come from 127.0.0.1)."""
    limiter.reset()
    yield
    limiter.reset()


@pytest.fixture
def make_user(app: Flask) -> Callable[..., UserHandle]:
    def make(merchant_id: str, role: str = "admin", email: str | None = None) -> UserHandle:
        email = email or f"{role}-{new_id('u')[-8:]}@shop.example"
        with app.app_context(), unit_of_work():
            user, password = create_user(merchant_id, email, role, PASSWORD)
            return UserHandle(user.id, user.email, password, merchant_id)

    return make


@pytest.fixture
def make_payment(app: Flask) -> Callable[..., str]:
    """``make_payment(merchant_id, **fields)``: see :func:`insert_payment`."""

    def make(merchant_id: str, **fields: Any) -> str:
        with app.app_context():
            return insert_payment(merchant_id, **fields)

    return make


def csrf_token(html: str) -> str:
    """The CSRF token of the first form in a page."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Dashboard:
    """A test client signed in (or not) to the dashboard; ``post`` adds a fresh CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def token(self) -> str:
        return csrf_token(self.client.get("/dashboard/signin").get_data(as_text=True))

    def post(self, path: str, data: dict[str, Any] | None = None, *, with_token: bool = True) -> Any:
        form = dict(data or {})
        if with_token:
            form["csrf_token"] = self.token()
        return self.client.post(path, data=form)

    def sign_in(self, email: str, password: str = PASSWORD) -> Any:
        return self.post("/dashboard/signin", {"email": email, "password": password})


@pytest.fixture
def dashboard(app: Flask) -> Callable[[UserHandle | None], Dashboard]:
    """``dashboard(user)``: a fresh client, signed in as ``user`` (or anonymous for None)."""

    def open_as(user: UserHandle | None = None) -> Dashboard:
        handle = Dashboard(app.test_client())
        if user is not None:
            response = handle.sign_in(user.email, user.password)
            assert response.status_code == 302, response.get_data(as_text=True)
        return handle

    return open_as


def days_ago(days: float) -> datetime:
    return utcnow() - timedelta(days=days)
