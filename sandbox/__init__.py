"""Stripe sandbox: a Stripe-compatible HTTP simulator for local development and tests.

The real ``stripe`` SDK works against it unchanged::

    client = stripe.StripeClient("sk_test_anything",
                                 base_addresses={"api": "http://127.0.0.1:12111"})

Running it
----------
``python -m sandbox [--host 127.0.0.1] [--port 12111] [--webhook-url URL]...
[--webhook-secret whsec_...] [--public-url URL] [--settle-delay SECONDS]
[--fault JSON]... [--seed N] [--decline-rate RATE] [--webhook-retries sandbox|live|S,S,...]``

* ``--webhook-url`` (repeatable): every event is POSTed there, signed like Stripe
  (``Stripe-Signature: t=...,v1=...``). A delivery that does not get a 2xx is retried on
  Stripe's sandbox schedule (three retries over a few hours: 10 min, 1 h, 3 h, on the sandbox
  clock, so ``/_sandbox/clock/advance`` brings them forward), then abandoned.
  ``--webhook-retries live`` uses a live-mode-like schedule (about 3 days),
  ``compressed`` 1, 2, 4 ... 32 s then every minute for an hour (``create_app``'s default,
  for in-process tests), and ``1,2,4`` any list of seconds.
* ``--fault`` (repeatable): a fault in force from the start (see "Faults" below).
* ``--seed``: makes faults and the decline rate repeatable.
* ``--decline-rate``: share (0..1) of good-card payments declined with
  ``card_declined``/``generic_decline`` (hosted page and control endpoint alike).
* ``--webhook-secret``: signing secret; a random ``whsec_...`` is generated and
  printed when omitted.
* ``--public-url``: base of hosted page URLs (``{public_url}/pay/{session_id}``);
  default ``http://HOST:PORT``.
* ``--settle-delay``: sandbox seconds before a US bank debit settles (default 10).

In tests, build the WSGI app with :func:`create_app` (``webhook_urls``,
``webhook_secret``, ``public_url``, ``settle_delay``, ``webhook_retry_delays``,
``faults``, ``seed``, ``decline_rate``) and serve it with
``werkzeug.serving.make_server(host, port, app, threaded=True)``. The state is
``app.sandbox_state``; ``app.sandbox_state.start()`` / ``.stop()`` start and stop
the daemon threads (webhook delivery, and a sweeper ticking every 0.5 s that
expires sessions, settles bank debits and fails refunds). Threads also start on
the first request.

API (``/v1``, ``Authorization: Bearer sk_test_...``; ``sk_live_`` keys get 401)
-----------------------------------------------------------------------------
Form-encoded bodies in Stripe's bracket notation, JSON responses, Stripe's error
object (absent ``code``/``param``/``decline_code`` are left out, as Stripe does), a
``Request-Id`` header on every response, the ``Stripe-Version`` request header echoed
in the response (malformed versions get 400; objects always have the shape of
``objects.API_VERSION``, the pinned SDK's version), ``Idempotency-Key`` (same params:
replay with ``Idempotent-Replayed: true``; different params: 400 ``idempotency_error``)
and ``expand[]`` (``payment_intent``,
``payment_intent.latest_charge``, ``latest_charge``, ``line_items``, ``charge``,
``customer``, ``product`` on prices, ``data.*`` on lists).

* ``POST /v1/products`` (``name``, ``id``, ``active``, ``description``, ``metadata``),
  ``GET /v1/products/<id>``, ``GET /v1/products[?active=&ids[]=]``
* ``POST /v1/prices`` (one-time: ``currency``, ``unit_amount``, ``product`` or
  ``product_data[name]``, ``lookup_key`` with ``transfer_lookup_key``, ``active``,
  ``nickname``, ``metadata``), ``GET /v1/prices/<id>``,
  ``GET /v1/prices[?active=&lookup_keys[]=&product=&currency=]``
* ``POST /v1/customers`` (``email``, ``name``, ``description``, ``phone``, ``metadata``),
  ``GET /v1/customers/<id>``
* ``POST /v1/checkout/sessions`` (``mode=payment``; ``line_items[][price]`` (an active
  Price id) or ``line_items[][price_data]`` with ``product`` or ``product_data``;
  ``customer`` or ``customer_creation=always|if_required``; ``ui_mode=hosted_page``;
  ``payment_method_types`` among card, link, alipay, us_bank_account, sepa_debit, ideal,
  bancontact, eps, p24, each with the currencies Stripe allows (alipay: aud cad cny eur gbp hkd
  jpy myr nzd sgd usd; us_bank_account: usd; sepa_debit, ideal, bancontact, eps: eur; p24: eur
  pln; card, link: any), else 400 naming ``payment_method_types``; without it, card and
  us_bank_account for usd, card otherwise, as if the Dashboard said so),
  ``GET /v1/checkout/sessions[?payment_intent=&status=&customer=]``,
  ``GET /v1/checkout/sessions/<id>``, ``POST /v1/checkout/sessions/<id>/expire``,
  ``GET /v1/checkout/sessions/<id>/line_items``
* ``GET /v1/payment_intents/<id>``, ``GET /v1/charges/<id>``,
  ``GET /v1/charges/<id>/refunds``
* ``GET /v1/events/<id>``, ``GET /v1/events`` (newest first; ``type`` with ``*``
  wildcards, ``types[]``, ``created[gt|gte|lt|lte]``, ``limit``, ``starting_after``,
  ``ending_before``)
* ``POST /v1/refunds``, ``GET /v1/refunds/<id>``,
  ``GET /v1/refunds[?payment_intent=&charge=]``

A PaymentIntent is created when the shopper first tries to pay. Events, in the order
Stripe sends them along each flow:

* card paid: (``customer.created`` with ``customer_creation=always``),
  ``payment_intent.created``, ``charge.succeeded``, ``payment_intent.succeeded``,
  ``checkout.session.completed``, ``charge.updated`` (balance transaction attached);
* card declined: (``payment_intent.created``), ``charge.failed``,
  ``payment_intent.payment_failed``;
* redirect method (alipay, ideal) authorized: ``payment_intent.created``,
  ``payment_intent.requires_action``, then ``charge.succeeded``, ``payment_intent.succeeded``,
  ``checkout.session.completed``, ``charge.updated``; failed: ``charge.failed``,
  ``payment_intent.payment_failed`` (the session stays open);
* bank debit: ``payment_intent.created``, ``charge.pending``,
  ``payment_intent.processing``, ``checkout.session.completed``; then either
  ``charge.succeeded``, ``payment_intent.succeeded``,
  ``checkout.session.async_payment_succeeded``, ``charge.updated`` or ``charge.failed``,
  ``payment_intent.payment_failed``, ``checkout.session.async_payment_failed``;
* ``checkout.session.expired``; refunds: ``refund.created``, ``charge.refunded``, and for a
  failing refund ``refund.updated``, ``charge.refund.updated``, ``refund.failed``;
* ``product.created``, ``price.created``, ``customer.created`` from the API.

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

The page offers the session's methods it can simulate (a radio each when there are several:
"Card", "US bank account", "Alipay", "iDEAL"); other accepted types are listed as not
simulated. Alipay and iDEAL are redirect methods: "Pay with Alipay" / "Pay with iDEAL" sends
the shopper (303) to ``/authorize/<nonce>``, the sandbox's stand-in for the wallet's or bank's
page, where "Authorize test payment" pays the session and redirects to ``success_url``, and
"Fail test payment" fails the attempt and redirects back to ``/pay/<session_id>?redirect_status=failed``
(Checkout's "We are unable to authenticate your payment method..." alert; the session stays
open, the shopper may pay another way). The PaymentIntent is ``requires_action`` with a
``redirect_to_url`` next action while the shopper is away; a page left behind by a later
attempt answers 404.

Control endpoints (no auth; JSON or form bodies; JSON answers)
--------------------------------------------------------------
* ``POST /_sandbox/checkout/sessions/<id>/pay`` -- ``card_number`` (default
  4242424242424242), ``email``, ``name``, optional ``exp`` (MM/YY) and ``cvc``; or
  ``payment_method=us_bank_account`` with ``account_number`` (default
  000123456789) and ``routing_number`` (default 110000000); or
  ``payment_method=alipay|ideal`` with ``outcome=authorize`` (default) or ``fail``, the two
  buttons of the wallet/bank page. Answers
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
* ``GET /_sandbox/settings`` -- ``settle_delay``, ``decline_rate``, ``webhook_retry_delays``.
* ``GET /_sandbox/faults`` lists the faults in force (each with ``fired``, how often it
  fired); ``POST /_sandbox/faults`` (a JSON fault) adds one (201; 400 naming the bad
  field); ``DELETE /_sandbox/faults`` clears them.
* ``GET|POST /_sandbox/decline_rate`` -- ``rate`` (0..1).
* ``POST /_sandbox/slow_endpoint?delay=S&status=N`` -- a webhook endpoint that answers
  ``N`` (default 200) after ``S`` seconds, for testing senders' timeouts.

Faults
------
A fault is a JSON object (``--fault`` or ``POST /_sandbox/faults``), e.g.
``{"path": "/v1/checkout/sessions", "method": "POST", "status": 500, "rate": 0.2, "seed": 1}``.
HTTP faults match ``path`` (a glob, default ``/v1/*``; ``/_sandbox`` is never faulted) and
``method`` (default any), fire with probability ``rate`` (default 1) at most ``times``
times, and have one kind: ``latency`` (seconds, or ``[low, high]``), ``status`` (500:
Stripe's ``api_error``; 429: Stripe's rate-limit error with ``Stripe-Rate-Limited-Reason``),
``reset: true`` (connection reset, nothing done), ``hang`` (seconds, then reset),
``lose_answer: true`` (the request is done -- object created, events emitted -- and the
connection reset instead of answering; an ``Idempotency-Key`` retry gets the stored
answer). Webhook faults match ``event`` (a glob of event types, default ``*``):
``{"webhook": "drop"|"duplicate"|"reorder"|"delay"}`` with ``window`` (reorder, default
1 s) or ``delay`` (default 5 s). ``seed`` (or ``--seed``) makes the draws repeatable.

Commands
--------
``python -m sandbox trigger EVENT_TYPE [--api URL]`` creates and drives the objects behind
an event (as ``stripe trigger`` does) and prints the events it caused.
``python -m sandbox listen --forward-to URL [--api URL] [--webhook-secret whsec_...]
[--events a,b] [--max-events N]`` forwards new sandbox events to ``URL``, signed, printing
``--> type [evt_...]`` and ``<-- [status] POST URL [evt_...]`` for each. ``--api``
defaults to ``http://127.0.0.1:12111``.

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

Redirect methods (alipay in any of its currencies, ideal in eur), as on Stripe's test
redirect page: "Authorize test payment" (control: ``outcome=authorize``) succeeds at once,
with ``payment_method_details`` of type ``alipay`` (``buyer_id``, ``fingerprint``,
``transaction_id``) or ``ideal`` (bank ``ing``, BIC ``INGBNL2A``, ``iban_last4`` 5264,
``verified_name``); "Fail test payment" (``outcome=fail``) fails with
``payment_intent_authentication_failure``, the PaymentIntent back in
``requires_payment_method`` and the session open.
"""

from .app import create_app

__all__ = ["create_app"]
