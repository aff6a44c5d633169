"""The only module that talks to Stripe: a thin gateway over the official SDK's ``StripeClient``.

One gateway per Stripe account (live and test, :class:`StripeGateways`), built once in
``create_app`` from config and kept in ``app.extensions["stripe_gateways"]``; domain functions get
the gateway to use as a parameter. Each gateway reuses one ``requests.Session`` (a pooled,
kept-alive HTTP connection) across requests; the proxy settings of the
environment (``HTTPS_PROXY``, ``NO_PROXY``) are read when it is built.

Time bound. Every call has a connect timeout of 1 s, a read timeout (``STRIPE_TIMEOUT``, default
3 s) and at most one network retry, which the SDK makes safe with idempotency keys and spaces by
at most 0.5 s, 1 s, 2 s, ... (stripe-python ``HTTPClient._sleep_time_seconds``). So a Stripe
that does not answer costs one call at most :attr:`StripeGateway.call_bound` seconds:
(1 + retries) × (connect + read) + the backoff, 8.5 s with the defaults. Creating a payment
makes exactly one Stripe call, so the whole create answers within about 10 s (8.5 s + our own
database work) and, when Stripe did not answer, leaves the payment ``pending`` with a 502 that
the merchant can retry. (The read timeout is per socket read: a peer trickling bytes could
stretch one attempt, but Stripe's answers are a few KB.)

Every call first checks that no database transaction is open (:func:`app.db.assert_no_transaction`).

Objects come back as plain ``dict``s shaped like Stripe's API objects. Failures are raised as
:class:`GatewayDown` (could not reach Stripe, or Stripe answered 5xx / 429: retry later) or
:class:`GatewayRejected` (Stripe refused the request: retrying the same request will not help).
"""

from __future__ import annotations

import json
from typing import Any

import requests
import stripe
from requests.adapters import HTTPAdapter
from stripe import StripeClient

from .db import assert_no_transaction
from .errors import TestModeUnavailable


class GatewayError(Exception):
    """Base of gateway failures; ``code`` and ``message`` come from Stripe's error object."""

    def __init__(
        self,
        message: str,
        code: str | None = None,
        *,
        error_type: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        #: Stripe's error ``type`` (``card_error``, ``invalid_request_error``,
        #: ``idempotency_error``, ...) and the HTTP status, when Stripe answered.
        self.error_type = error_type
        self.http_status = http_status


class GatewayDown(GatewayError):
    """Stripe could not be reached, timed out, or answered 5xx/429 after the SDK's retries."""


class GatewayRejected(GatewayError):
    """Stripe refused the request (4xx): invalid parameters, authentication, idempotency error."""


class SignatureInvalid(Exception):
    """A webhook payload's ``Stripe-Signature`` is missing, wrong, or older than the tolerance."""


def _plain(obj: Any) -> dict[str, Any]:
    return obj.to_dict(recursive=True)


class StripeGateway:
    """Stripe operations used by the service, over one reused HTTP connection pool.

    ``api_base`` is Stripe's own address in production and the sandbox's in development and
    tests; ``timeout`` (read) and ``connect_timeout`` are in seconds per attempt;
    ``max_network_retries`` (default 1) is how many times the SDK retries a call that got no answer, a
    409 or a 5xx. See the module docstring for the time bound this gives.
    """

    #: Stripe's webhook timestamp tolerance in seconds (stripe.Webhook.DEFAULT_TOLERANCE).
    SIGNATURE_TOLERANCE = 300

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str,
        webhook_secrets: list[str],
        timeout: float = 3.0,
        connect_timeout: float = 1.0,
        max_network_retries: int = 1,
        pool_size: int = 32,
    ) -> None:
        session = requests.Session()
        # The environment's proxy for ``api_base`` (HTTPS_PROXY, NO_PROXY, ...) read once, here:
        # requests would otherwise read it again, and look for a ~/.netrc, on every call (6% of
        # a create's CPU). The SDK passes its own CA bundle, so nothing else comes from there.
        session.proxies = requests.utils.get_environ_proxies(api_base)
        session.trust_env = False
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._http = stripe.RequestsClient(timeout=(connect_timeout, timeout), session=session)
        self._client = StripeClient(
            secret_key,
            base_addresses={"api": api_base},
            max_network_retries=max_network_retries,
            http_client=self._http,
        )
        self._webhook_secrets = list(webhook_secrets)
        #: Which Stripe account this is: two gateways with equal ``account`` are the same one.
        self.account = (secret_key, api_base)
        #: Whether the account's key is a live-mode key (``sk_live_…``/``rk_live_…``): Stripe's
        #: objects and events from it say ``livemode: true``.
        self.livemode = secret_key.startswith(("sk_live_", "rk_live_"))
        backoff = sum(max(0.5, min(0.5 * 2 ** (n - 1), 5.0)) for n in range(1, max_network_retries + 1))
        #: Seconds one call may take at most when Stripe does not answer (module docstring).
        self.call_bound = (1 + max_network_retries) * (connect_timeout + timeout) + backoff

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        assert_no_transaction("a Stripe request")
        try:
            return _plain(fn(*args, **kwargs))
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise GatewayDown(exc.user_message or str(exc), exc.code) from exc
        except stripe.StripeError as exc:
            status = exc.http_status or 500
            error_type = getattr(exc.error, "type", None) if exc.error is not None else None
            kind = GatewayDown if status >= 500 else GatewayRejected
            raise kind(
                exc.user_message or str(exc), exc.code, error_type=error_type, http_status=exc.http_status
            ) from exc

    def create_checkout_session(self, params: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        """Create a Checkout Session (``POST /v1/checkout/sessions``); returns the session."""
        return self._call(
            self._client.v1.checkout.sessions.create,
            params=params,
            options={"idempotency_key": idempotency_key},
        )

    def retrieve_checkout_session(self, session_id: str) -> dict[str, Any]:
        """Retrieve a Checkout Session with its PaymentIntent (and latest charge) expanded."""
        return self._call(
            self._client.v1.checkout.sessions.retrieve,
            session_id,
            params={"expand": ["payment_intent.latest_charge"]},
        )

    def expire_checkout_session(self, session_id: str) -> dict[str, Any]:
        """Expire an ``open`` Checkout Session; Stripe rejects it for any other status."""
        return self._call(self._client.v1.checkout.sessions.expire, session_id)

    def retrieve_payment_intent(self, payment_intent_id: str) -> dict[str, Any]:
        """Retrieve a PaymentIntent with ``latest_charge`` expanded."""
        return self._call(
            self._client.v1.payment_intents.retrieve,
            payment_intent_id,
            params={"expand": ["latest_charge"]},
        )

    def create_refund(self, params: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        """Create a Refund (``POST /v1/refunds``); ``amount`` in minor units."""
        return self._call(
            self._client.v1.refunds.create,
            params=params,
            options={"idempotency_key": idempotency_key},
        )

    def retrieve_refund(self, refund_id: str) -> dict[str, Any]:
        """Retrieve a Refund."""
        return self._call(self._client.v1.refunds.retrieve, refund_id)

    def list_refunds(
        self, *, payment_intent: str | None = None, charge: str | None = None
    ) -> list[dict[str, Any]]:
        """All refunds of a PaymentIntent or a charge (``GET /v1/refunds``), newest first,
        following Stripe's pagination (``starting_after``)."""
        params: dict[str, Any] = {"limit": 100}
        if payment_intent:
            params["payment_intent"] = payment_intent
        if charge:
            params["charge"] = charge
        return self._list(self._client.v1.refunds.list, params)

    def _list(self, fn: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self._call(fn, params=params)
            items.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                return items
            params = {**params, "starting_after": page["data"][-1]["id"]}

    def list_events(self, *, created_gte: int, types: list[str]) -> list[dict[str, Any]]:
        """All events created at or after ``created_gte`` (unix seconds) of the given types,
        oldest first, following Stripe's pagination (``starting_after``)."""
        events: list[dict[str, Any]] = []
        params: dict[str, Any] = {"created": {"gte": created_gte}, "types": types, "limit": 100}
        while True:
            page = self._call(self._client.v1.events.list, params=params)
            events.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                break
            params["starting_after"] = page["data"][-1]["id"]
        return list(reversed(events))

    def construct_event(self, payload: bytes, signature: str | None) -> Any:
        """Verify ``Stripe-Signature`` on the raw ``payload`` against each configured webhook
        secret (several during a rotation) and return the payload parsed from JSON.

        The result is whatever JSON was signed: its shape is checked by the caller
        (:func:`app.payments.stripe_event_shape.parse_event`). Raises :class:`SignatureInvalid`
        if the header is missing or malformed, matches no secret, or its timestamp is older
        than :attr:`SIGNATURE_TOLERANCE` seconds (Stripe's rule), or if the signed payload is
        not JSON.
        """
        if not signature:
            raise SignatureInvalid("Missing Stripe-Signature header.")
        for secret in self._webhook_secrets:
            try:
                stripe.WebhookSignature.verify_header(
                    payload.decode("utf-8", "replace"), signature, secret, self.SIGNATURE_TOLERANCE
                )
            except stripe.SignatureVerificationError:
                continue
            try:
                return json.loads(payload)
            except (ValueError, RecursionError) as exc:
                raise SignatureInvalid("Payload is not valid JSON.") from exc
        raise SignatureInvalid("No valid signature found for the payload.")


class LivemodeMismatch(Exception):
    """A verified Stripe event whose ``livemode`` is not the mode of the account that signed it."""


class StripeGateways:
    """The two Stripe accounts: ``live`` (``STRIPE_SECRET_KEY``) and ``test``
    (``STRIPE_TEST_SECRET_KEY``; None when unset: test mode is then unavailable).

    Built once in ``create_app`` and kept in ``app.extensions["stripe_gateways"]``; the edges
    (views, CLI, jobs) pick one with :meth:`for_mode` and pass it to the domain functions.
    When both modes are configured with the same account (same secret key and address: the
    development sandbox is one account), that account serves both modes (:meth:`accounts`).
    """

    def __init__(self, live: StripeGateway, test: StripeGateway | None = None) -> None:
        self.live = live
        self.test = test

    def for_mode(self, livemode: bool) -> StripeGateway:
        """The gateway of live mode (``livemode`` true) or test mode. Raises
        :class:`~app.errors.TestModeUnavailable` (403) for test mode when no test account
        is configured."""
        if livemode:
            return self.live
        if self.test is None:
            raise TestModeUnavailable("Test mode is not configured (STRIPE_TEST_SECRET_KEY is unset).")
        return self.test

    def modes(self) -> list[tuple[bool, StripeGateway]]:
        """``(livemode, gateway)`` of each configured mode, live first."""
        return [(True, self.live)] + ([(False, self.test)] if self.test is not None else [])

    def accounts(self) -> list[tuple[frozenset[bool], StripeGateway]]:
        """Each distinct Stripe account with the modes whose payments it holds, live first."""
        if self.test is None:
            return [(frozenset({True}), self.live)]
        if self.test.account == self.live.account:
            return [(frozenset({True, False}), self.live)]
        return [(frozenset({True}), self.live), (frozenset({False}), self.test)]

    def construct_event(self, payload: bytes, signature: str | None) -> tuple[frozenset[bool], Any]:
        """Verify a Stripe webhook against the live account's secrets, then the test account's
        (:meth:`StripeGateway.construct_event`); returns ``(modes, event)``: the modes of the
        account whose secret verified (the event may touch only payments of those modes).
        Raises :class:`SignatureInvalid` when no secret verifies, and :class:`LivemodeMismatch`
        when the event's ``livemode`` is not that account's (a live key's account sends
        ``livemode: true``, a test key's ``false``)."""
        failure: SignatureInvalid | None = None
        for modes, account in self.accounts():
            try:
                event = account.construct_event(payload, signature)
            except SignatureInvalid as exc:
                failure = failure or exc
                continue
            claimed = event.get("livemode") if isinstance(event, dict) else None
            if isinstance(claimed, bool) and claimed != account.livemode:
                raise LivemodeMismatch(
                    f"The event says livemode={str(claimed).lower()} but was signed by the "
                    f"{'live' if account.livemode else 'test'}-mode account's secret."
                )
            return modes, event
        assert failure is not None
        raise failure


def stripe_gateways() -> StripeGateways:
    """The application's gateways (built in ``create_app``), for the edges: views, CLI, jobs."""
    from flask import current_app

    return current_app.extensions["stripe_gateways"]  # type: ignore[no-any-return]
