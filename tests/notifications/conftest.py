"""Fixtures for the notification tests: misbehaving endpoints, fast retries, payments (the
scriptable webhook receiver is the suite's own ``receiver``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from app.extensions import db
from app.models import Payment, new_id
from app.payments.states import PaymentStatus
from app.payments.transitions import MoveOutcome, move
from tests.support.factories import insert_payment


class RawEndpoint:
    """A misbehaving merchant endpoint on ``host``: for each request it reads the head, then
    sends ``head`` and ``body`` (one byte every ``trickle`` seconds when set) and closes.

    ``opened``/``closed`` hold the ``time.monotonic()`` of each connection's start and end.
    """

    def __init__(self, head: bytes, body: bytes = b"", trickle: float = 0.0, host: str = "127.0.0.1"):
        self.head, self.body, self.trickle = head, body, trickle
        self.opened: list[float] = []
        self.closed: list[float] = []
        self._listener = socket.create_server((host, 0))
        self.url = f"http://{host}:{self._listener.getsockname()[1]}/hooks"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        self.opened.append(time.monotonic())
        try:
            with conn:
                received = b""
                while b"\r\n\r\n" not in received:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    received += chunk
                conn.sendall(self.head)
                if not self.trickle:
                    conn.sendall(self.body)
                for byte in self.body if self.trickle else b"":
                    time.sleep(self.trickle)
                    conn.sendall(bytes([byte]))
        except OSError:
            pass  # the worker hung up: that is the point
        finally:
            self.closed.append(time.monotonic())

    def stop(self) -> None:
        self._listener.close()


@pytest.fixture
def raw_endpoint() -> Iterator[Callable[..., RawEndpoint]]:
    """Make :class:`RawEndpoint` servers; they stop after the test."""
    made: list[RawEndpoint] = []

    def make(head: bytes, body: bytes = b"", trickle: float = 0.0, host: str = "127.0.0.1") -> RawEndpoint:
        made.append(RawEndpoint(head, body, trickle, host))
        return made[-1]

    yield make
    for endpoint in made:
        endpoint.stop()


@pytest.fixture
def notify_app(app: Flask) -> Iterator[Flask]:
    """The app allowing http://127.0.0.1 endpoints, retrying at once (three retries)."""
    saved = {k: app.config[k] for k in ("WEBHOOK_ALLOW_PRIVATE_URLS", "WEBHOOK_RETRY_SCHEDULE")}
    app.config.update(WEBHOOK_ALLOW_PRIVATE_URLS=True, WEBHOOK_RETRY_SCHEDULE=[0, 0, 0])
    yield app
    app.config.update(saved)


@pytest.fixture
def make_payment(app: Flask) -> Callable[..., str]:
    """Insert an ``open`` payment for a merchant id and return its id."""

    def make(merchant_id: str, order_id: str = "A-1001") -> str:
        with app.app_context():
            return insert_payment(
                merchant_id,
                status=PaymentStatus.OPEN.value,
                order_id=order_id,
                customer_email=None,
                metadata_={},
                stripe_checkout_session_id="cs_test_" + new_id("x"),
            )

    return make


@pytest.fixture
def transition(app: Flask) -> Callable[[str, PaymentStatus], None]:
    """Move a payment to a status through the state machine, and commit."""

    def run(payment_id: str, target: PaymentStatus) -> None:
        with app.app_context():
            assert move(db.session.get_one(Payment, payment_id), target, source="worker") is MoveOutcome.MOVED
            db.session.commit()

    return run
