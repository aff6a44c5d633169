"""Merchant events on a message broker: publish one to RabbitMQ (AMQP 0-9-1) or NATS JetStream,
and subscribe to them as a downstream service does.

The layout, for the name ``exchange`` (the ``EVENT_BROKER_EXCHANGE`` setting, ``payments`` by
default):

- ``amqp://`` / ``amqps://`` (kombu): a durable topic exchange ``payments``; routing key = the
  event type (``payment.succeeded``); ``message_id`` = the event id; persistent delivery
  (``delivery_mode`` 2), ``content_type`` ``application/json``; the channel is in publisher
  confirm mode, so a publish returns only once the broker has taken the message.
- ``nats://`` / ``tls://`` (nats-py): subject ``payments.<event type>`` in the JetStream stream
  ``PAYMENTS`` (created if missing: subjects ``payments.>``, file storage, a one-hour duplicate
  window); header ``Nats-Msg-Id`` = the event id, so JetStream drops a second copy of a retried
  publish; a publish returns only once the stream acknowledged it.

The body is the event exactly as webhook endpoints get it
(:func:`app.notifications.serializers.event_to_dict`, ``json.dumps``). Every network step is
bounded by ``timeout`` seconds; any failure is a :class:`BrokerError` and drops the connection,
which the next publish opens again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import nats.errors
import nats.js.api
import nats.js.errors
from kombu import Connection, Exchange, Producer, Queue
from kombu.simple import SimpleQueue
from nats.aio.client import Client as NatsConnection

log = logging.getLogger(__name__)

#: Seconds any one network step (connect, publish and confirm, receive) may take.
TIMEOUT = 5.0
#: The default exchange name; on NATS the subject prefix, upper-cased the stream name.
EXCHANGE = "payments"
#: How long JetStream remembers a ``Nats-Msg-Id`` to drop a duplicate, in seconds.
DUPLICATE_WINDOW = 3600.0
#: Seconds a temporary JetStream consumer survives without a reader.
TEMPORARY_CONSUMER_IDLE = 300.0
AMQP_SCHEMES = ("amqp", "amqps")
NATS_SCHEMES = ("nats", "tls")

T = TypeVar("T")


class BrokerError(Exception):
    """The broker could not be reached in time, or did not confirm a publish."""


class BrokerPublisher(Protocol):
    """A connection that publishes events; see :func:`publisher_for`."""

    def publish(self, event_id: str, event_type: str, body: bytes) -> None:
        """Publish one event and wait for the broker's confirmation; raises :class:`BrokerError`."""

    def close(self) -> None:
        """Drop the connection (a later publish opens a new one)."""


@dataclass(frozen=True)
class Received:
    """One message as a subscriber gets it: ``message_id`` (the event id), ``key`` (the AMQP
    routing key or NATS subject), the JSON ``body``, ``properties`` (AMQP message properties
    such as ``delivery_mode``, or NATS headers), and ``ack``."""

    message_id: str
    key: str
    body: bytes
    properties: dict[str, Any]
    ack: Callable[[], None]


def check_settings(url: str, exchange: str) -> str:
    """Return the scheme of ``url`` ("amqp", "nats", ...); raise ``ValueError`` naming the setting
    when the scheme is not one of amqp, amqps, nats, tls, or ``exchange`` is not a plain name
    (letters, digits, ``_``, ``-``; it becomes a NATS subject prefix and stream name)."""
    scheme = urlsplit(url).scheme
    if scheme not in AMQP_SCHEMES + NATS_SCHEMES:
        raise ValueError(
            f"EVENT_BROKER_URL must start with amqp://, amqps://, nats:// or tls://, not {scheme!r}"
        )
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", exchange):
        raise ValueError(f"EVENT_BROKER_EXCHANGE must be letters, digits, _ or -, not {exchange!r}")
    return scheme


def safe_address(url: str) -> str:
    """``scheme://host:port`` of ``url``, without user name or password, for log lines."""
    parts = urlsplit(url)
    return (
        f"{parts.scheme}://{parts.hostname}:{parts.port}"
        if parts.port
        else f"{parts.scheme}://{parts.hostname}"
    )


def publisher_for(url: str, *, exchange: str = EXCHANGE, timeout: float = TIMEOUT) -> BrokerPublisher:
    """A :class:`BrokerPublisher` for ``url`` (connects on first publish). Raises ``ValueError`` for
    settings :func:`check_settings` refuses."""
    if check_settings(url, exchange) in AMQP_SCHEMES:
        return _AmqpPublisher(url, exchange, timeout)
    return _NatsPublisher(url, exchange, timeout)


def subscribe(
    url: str, *, exchange: str = EXCHANGE, queue: str | None = None, timeout: float = TIMEOUT
) -> Subscription:
    """A :class:`Subscription` to every event type under ``exchange``. ``queue`` names a durable
    AMQP queue / JetStream durable consumer that keeps events while nobody listens; without it
    a temporary one sees the events published from the moment it is entered."""
    if check_settings(url, exchange) in AMQP_SCHEMES:
        return _AmqpSubscription(url, exchange, queue, timeout)
    return _NatsSubscription(url, exchange, queue, timeout)


class Subscription:
    """Use as a context manager: entering declares the queue (or consumer) and binds it;
    :meth:`get` returns the next message. Raises :class:`BrokerError` when the broker fails."""

    def __enter__(self) -> Subscription:
        self.open()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        raise NotImplementedError

    def get(self, timeout: float) -> Received | None:
        """The next message, or None if none came within ``timeout`` seconds. Acknowledge it with
        ``ack()`` once handled; an unacknowledged message is delivered again later."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


# --- AMQP (RabbitMQ) --------------------------------------------------------------------------


def _amqp_connect(url: str, timeout: float) -> Connection:
    connection = Connection(url, connect_timeout=timeout, transport_options={"confirm_publish": True})
    # One try, no retry inside kombu: a failure surfaces within ``timeout`` and the caller backs off.
    connection.ensure_connection(max_retries=0)
    return connection


def _amqp_exchange(name: str) -> Exchange:
    return Exchange(name, type="topic", durable=True)


class _AmqpPublisher:
    def __init__(self, url: str, exchange: str, timeout: float):
        self.url, self.timeout = url, timeout
        self.exchange = _amqp_exchange(exchange)
        self._connection: Connection | None = None
        self._producer: Producer | None = None

    def publish(self, event_id: str, event_type: str, body: bytes) -> None:
        try:
            if self._producer is None:
                self._connection = _amqp_connect(self.url, self.timeout)
                self._producer = Producer(self._connection.default_channel, exchange=self.exchange)
                self.exchange(self._producer.channel).declare()
            self._producer.publish(
                body,
                routing_key=event_type,
                message_id=event_id,
                delivery_mode=2,
                content_type="application/json",
                content_encoding="utf-8",
                retry=False,
                timeout=self.timeout,
                confirm_timeout=self.timeout,
            )
        except Exception as exc:
            self.close()
            raise BrokerError(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            _quietly(connection.release)


class _AmqpSubscription(Subscription):
    def __init__(self, url: str, exchange: str, queue: str | None, timeout: float):
        self.url, self.timeout = url, timeout
        self.exchange = _amqp_exchange(exchange)
        temporary = queue is None
        self.queue = Queue(
            queue or f"{exchange}.consume.{uuid.uuid4().hex}",
            exchange=self.exchange,
            routing_key="#",
            durable=not temporary,
            exclusive=temporary,
            auto_delete=temporary,
        )
        self._connection: Connection | None = None
        self._simple: SimpleQueue | None = None

    def open(self) -> None:
        try:
            self._connection = _amqp_connect(self.url, self.timeout)
            self._simple = SimpleQueue(self._connection.default_channel, self.queue)
        except Exception as exc:
            self.close()
            raise BrokerError(f"{type(exc).__name__}: {exc}") from exc

    def get(self, timeout: float) -> Received | None:
        assert self._simple is not None, "use the subscription as a context manager"
        try:
            message = self._simple.get(block=True, timeout=timeout)
        except SimpleQueue.Empty:
            return None
        except Exception as exc:
            raise BrokerError(f"{type(exc).__name__}: {exc}") from exc
        return Received(
            message_id=message.properties.get("message_id", ""),
            key=message.delivery_info.get("routing_key", ""),
            body=message.body if isinstance(message.body, bytes) else message.body.encode(),
            properties=dict(message.properties),
            ack=message.ack,
        )

    def close(self) -> None:
        simple, connection, self._simple, self._connection = self._simple, self._connection, None, None
        if simple is not None:
            _quietly(simple.close)
        if connection is not None:
            _quietly(connection.release)


# --- NATS JetStream ---------------------------------------------------------------------------


class _NatsClient:
    """One NATS connection driven from a synchronous caller through an event loop of its own."""

    def __init__(self, url: str, exchange: str, timeout: float):
        self.url, self.timeout = url, timeout
        self.subjects = f"{exchange}.>"
        self.prefix = exchange
        self.stream = exchange.upper()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._step: asyncio.Task[Any] | None = None
        self._nc: Any = None
        self.js: Any = None

    def run(self, step: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``step`` on this client's loop, at most ``timeout`` (default: the client's) seconds."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        self._step = self._loop.create_task(asyncio.wait_for(step, timeout or self.timeout))
        return self._loop.run_until_complete(self._step)

    def connect(self) -> None:
        self.run(self._connect())

    async def _connect(self) -> None:
        async def on_error(exc: Exception) -> None:
            log.debug("nats: %s", exc)

        # Kept before connecting, so that close() also closes the socket of a failed connect.
        self._nc = NatsConnection()
        # No reconnection inside nats-py: a failure surfaces at once and the caller backs off.
        await self._nc.connect(
            servers=[self.url],
            connect_timeout=max(1, round(self.timeout)),
            allow_reconnect=False,
            max_reconnect_attempts=0,
            error_cb=on_error,
        )
        self.js = self._nc.jetstream(timeout=self.timeout)
        try:
            await self.js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            await self.js.add_stream(
                nats.js.api.StreamConfig(
                    name=self.stream,
                    subjects=[self.subjects],
                    storage=nats.js.api.StorageType.FILE,
                    duplicate_window=DUPLICATE_WINDOW,
                )
            )

    def close(self) -> None:
        """Close the connection and its event loop (a later :meth:`connect` makes new ones)."""
        step, self._step = self._step, None
        if step is not None and not step.done() and self._loop is not None:
            # A step cut short (Ctrl-C in a read) is cancelled, not left to fail unobserved.
            step.cancel()
            _quietly(lambda: self._loop.run_until_complete(asyncio.gather(step, return_exceptions=True)))  # type: ignore[union-attr]
        nc, self._nc, self.js = self._nc, None, None
        if nc is not None:
            _quietly(lambda: self.run(nc.close()))
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.close()


class _NatsPublisher:
    def __init__(self, url: str, exchange: str, timeout: float):
        self.client = _NatsClient(url, exchange, timeout)

    def publish(self, event_id: str, event_type: str, body: bytes) -> None:
        client = self.client
        try:
            if client.js is None:
                client.connect()
            client.run(
                client.js.publish(
                    f"{client.prefix}.{event_type}",
                    body,
                    timeout=client.timeout,
                    stream=client.stream,
                    headers={"Nats-Msg-Id": event_id},
                )
            )
        except Exception as exc:
            self.close()
            raise BrokerError(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        self.client.close()


class _NatsSubscription(Subscription):
    def __init__(self, url: str, exchange: str, queue: str | None, timeout: float):
        self.client = _NatsClient(url, exchange, timeout)
        self.durable = queue
        self._sub: Any = None

    def open(self) -> None:
        client = self.client
        try:
            client.connect()
            self._sub = client.run(
                client.js.pull_subscribe(
                    client.subjects,
                    durable=self.durable,
                    stream=client.stream,
                    config=nats.js.api.ConsumerConfig(
                        deliver_policy=nats.js.api.DeliverPolicy.ALL
                        if self.durable
                        else nats.js.api.DeliverPolicy.NEW,
                        ack_policy=nats.js.api.AckPolicy.EXPLICIT,
                        # A temporary consumer outlives pauses between reads (the server's
                        # default is 5 s), and is removed this long after its reader is gone.
                        inactive_threshold=None if self.durable else TEMPORARY_CONSUMER_IDLE,
                    ),
                )
            )
        except Exception as exc:
            self.close()
            raise BrokerError(f"{type(exc).__name__}: {exc}") from exc

    def get(self, timeout: float) -> Received | None:
        assert self._sub is not None, "use the subscription as a context manager"
        client = self.client
        try:
            messages = client.run(self._sub.fetch(1, timeout=timeout), timeout=timeout + client.timeout)
        except (nats.errors.TimeoutError, TimeoutError):
            return None
        except Exception as exc:
            raise BrokerError(f"{type(exc).__name__}: {exc}") from exc
        message = messages[0]
        return Received(
            message_id=(message.headers or {}).get("Nats-Msg-Id", ""),
            key=message.subject,
            body=message.data,
            properties=dict(message.headers or {}),
            ack=lambda: client.run(message.ack()),
        )

    def close(self) -> None:
        self._sub = None
        self.client.close()


def _quietly(close: Callable[[], object]) -> None:
    """Close something whose peer may be gone already; a failure here changes nothing."""
    try:
        close()
    except Exception as exc:
        log.debug("closing a broker connection: %s", exc)
