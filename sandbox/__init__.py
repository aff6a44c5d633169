"""Stripe sandbox: a Stripe-compatible HTTP simulator for local development and tests.

The real ``stripe`` SDK works against it unchanged::

    client = stripe.StripeClient("sk_test_anything",
                                 base_addresses={"api": "http://127.0.0.1:12111"})

Running it
----------
``python -m sandbox [--host 127.0.0.1] [--port 12111] [--webhook-url URL]...
[--webhook-secret whsec_...] [--public-url URL] [--settle-delay SECONDS]``

* ``--webhook-url`` (repeatable): every event is POSTed there, signed like Stripe
  (``Stripe-Signature: t=...,v1=...``), retried after 1, 2, 4 ... 60 s until a 2xx.
* ``--webhook-secret``: signing secret; a random ``whsec_...`` is generated and
  printed when omitted.
* ``--public-url``: base of hosted page URLs (``{public_url}/pay/{session_id}``);
  default ``http://HOST:PORT``.
* ``--settle-delay``: sandbox seconds before a US bank debit settles (default 10).

In tests, build the WSGI app with :func:`create_app` (``webhook_urls``,
``webhook_secret``, ``public_url``, ``settle_delay``) and serve it with
``werkzeug.serving.make_server(host, port, app, threaded=True)``. The state is
``app.sandbox_state``; ``app.sandbox_state.start()`` / ``.stop()`` start and stop
the daemon threads (webhook delivery, and a sweeper ticking every 0.5 s that
expires sessions, settles bank debits and fails refunds). Threads also start on
the first request.

API (``/v1``, ``Authorization: Bearer sk_test_...``; ``sk_live_`` keys get 401)
-----------------------------------------------------------------------------
Form-encoded bodies in Stripe's bracket notation, JSON responses, Stripe's error
object, ``Idempotency-Key`` (same params: replay with ``Idempotent-Replayed: true``;
different params: 400 ``idempotency_error``) and ``expand[]`` (``payment_intent``,
``payment_intent.latest_charge``, ``latest_charge``, ``line_items``, ``charge``,
``data.*`` on lists).

* ``POST /v1/checkout/sessions`` (``mode=payment`` with ``line_items[][price_data]``),
  ``GET /v1/checkout/sessions[?payment_intent=&status=]``,
  ``GET /v1/checkout/sessions/<id>``, ``POST /v1/checkout/sessions/<id>/expire``,
  ``GET /v1/checkout/sessions/<id>/line_items``
* ``GET /v1/payment_intents/<id>``, ``GET /v1/charges/<id>``,
  ``GET /v1/charges/<id>/refunds``
* ``GET /v1/events/<id>``, ``GET /v1/events`` (newest first; ``type`` with ``*``
  wildcards, ``types[]``, ``created[gt|gte|lt|lte]``, ``limit``, ``starting_after``,
  ``ending_before``)
* ``POST /v1/refunds``, ``GET /v1/refunds/<id>``,
  ``GET /v1/refunds[?payment_intent=&charge=]``

A PaymentIntent is created when the shopper first tries to pay. Events emitted:
``checkout.session.completed``, ``checkout.session.expired``,
``checkout.session.async_payment_succeeded`` / ``..._failed``,
``payment_intent.succeeded``, ``payment_intent.payment_failed``,
``refund.created``, ``charge.refunded``, ``refund.updated``, ``refund.failed``.

Hosted page
-----------
``GET /pay/<session_id>`` shows the order and a form labelled "Email", "Card
number", "Expiration", "CVC", "Cardholder name" with a "Pay" button and a
"← Back" link to ``cancel_url``. For USD sessions that allow ``us_bank_account``
(the default for USD), choose the "US bank account" radio first; that reveals
"Account holder name", "Routing number", "Account number" and a "Pay with bank
account" button. Success redirects (303) to ``success_url`` with
``{CHECKOUT_SESSION_ID}`` filled in; a decline re-renders the page with a
``role="alert"`` message. ``metadata[merchant_name]`` sets the merchant shown.

Control endpoints (no auth; JSON or form bodies; JSON answers)
--------------------------------------------------------------
* ``POST /_sandbox/checkout/sessions/<id>/pay`` -- ``card_number`` (default
  4242424242424242), ``email``, ``name``, optional ``exp`` (MM/YY) and ``cvc``; or
  ``payment_method=us_bank_account`` with ``account_number`` (default
  000123456789) and ``routing_number`` (default 110000000). Answers
  ``{"session": {...}, "error": null | {...}}`` with 200 even for declines
  (400 if the session is not open, 404 if unknown).
* ``POST /_sandbox/clock/advance`` -- ``seconds``; moves the sandbox clock, then
  runs expiry, settlement and refund failures before answering ``{"now": unix}``.
  ``GET /_sandbox/clock`` answers ``{"now": unix}``.
* ``POST /_sandbox/webhooks/disable`` / ``/enable`` -- while disabled, events are
  recorded but never delivered.
* ``POST /_sandbox/webhooks/endpoints`` -- ``url``; add a delivery URL.
* ``POST /_sandbox/deliveries/flush`` -- ``timeout`` (default 10 s); waits until no
  delivery is pending; answers ``{"empty": bool, "pending": n}``.
* ``GET /_sandbox/health`` -- ``{"ok": true}``.

Test numbers
------------
Cards (spaces allowed; any future expiry, any CVC):

* 4242 4242 4242 4242 (visa), 5555 5555 5555 4444 (mastercard),
  3782 822463 10005 (amex), 4000 0566 5566 5556 (visa debit): succeed.
* 4000 0000 0000 5126: succeeds, but refunds of it fail on the next sweeper tick
  (``refund.failed``, ``failure_reason=expired_or_canceled_card``).
* 4000 0000 0000 0002: ``card_declined`` / ``generic_decline``.
* 4000 0000 0000 9995: ``card_declined`` / ``insufficient_funds``.
* 4000 0000 0000 9987 / 9979: ``card_declined`` / ``lost_card`` / ``stolen_card``.
* 4000 0000 0000 0069 ``expired_card``; 4000 0000 0000 0127 ``incorrect_cvc``;
  4000 0000 0000 0119 ``processing_error``.
* Any other number: ``incorrect_number`` (rejected before a PaymentIntent exists).

US bank accounts (routing 110000000; any 9-digit routing number is accepted).
The session completes unpaid with the PaymentIntent ``processing``, then after
``settle_delay`` sandbox seconds:

* 000123456789 (and any other account number): succeeds.
* 000111111116: fails with ``no_account``; 000111111113: ``account_closed``;
  000222222227: ``insufficient_funds``; 000333333335: ``debit_not_authorized``.
"""

from .app import create_app

__all__ = ["create_app"]
