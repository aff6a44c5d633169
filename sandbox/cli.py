"""``python -m sandbox trigger EVENT_TYPE`` and ``python -m sandbox listen --forward-to URL``.

Both talk to a running sandbox over HTTP (``--api``, default ``http://127.0.0.1:12111``), like the
Stripe CLI's commands of the same names talk to Stripe.
"""

import argparse
import datetime
import json
import secrets
import sys
import time

import requests

from .webhooks import sign

DEFAULT_API = "http://127.0.0.1:12111"


class Sandbox:
    """A running sandbox reached over HTTP: the ``/v1`` API and the ``/_sandbox`` controls."""

    def __init__(self, api, api_key):
        self.api = api.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {api_key}"

    def v1(self, method, path, **data):
        """Call the API (form-encoded like the SDK); raises ``SystemExit`` on an error answer."""
        response = self.http.request(method, f"{self.api}/v1/{path}", data=_form(data), timeout=30)
        if response.status_code >= 400:
            raise SystemExit(f"{method.upper()} /v1/{path} failed: {response.text}")
        return response.json()

    def control(self, method, path, **data):
        """Call a ``/_sandbox`` control endpoint."""
        response = self.http.request(method, f"{self.api}/_sandbox/{path}", data=data, timeout=30)
        response.raise_for_status()
        return response.json()


def _form(data, prefix=""):
    """Flatten nested dicts/lists into Stripe's bracket notation."""
    pairs = {}
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            pairs.update(_form(value, name))
        elif isinstance(value, list):
            pairs.update(_form({str(i): item for i, item in enumerate(value)}, name))
        else:
            pairs[name] = value
    return pairs


def _session(box, **extra):
    item = {"price_data": {"currency": "usd", "unit_amount": 2000, "product_data": {"name": "T-shirt"}}}
    return box.v1("post", "checkout/sessions", mode="payment", line_items=[{**item, "quantity": 1}], **extra)


def _paid(box, **payment):
    session = _session(box)
    box.control("post", f"checkout/sessions/{session['id']}/pay", **payment)
    return session


def _settled(box, account_number):
    session = _paid(box, payment_method="us_bank_account", account_number=account_number)
    box.control("post", "clock/advance", seconds=box.control("get", "settings")["settle_delay"])
    return session


def _refunded(box, card_number):
    session = _paid(box, card_number=card_number)
    intent = box.v1("get", f"checkout/sessions/{session['id']}")["payment_intent"]
    refund = box.v1("post", "refunds", payment_intent=intent)
    box.control("post", "clock/advance", seconds=0)  # refunds to a failing card fail on the next tick
    return refund


def _expired(box):
    session = _session(box)
    return box.v1("post", f"checkout/sessions/{session['id']}/expire")


_CARD_PAID = lambda box: _paid(box, card_number="4242424242424242")  # noqa: E731
_CARD_DECLINED = lambda box: _paid(box, card_number="4000000000000002")  # noqa: E731
_BANK_SETTLED = lambda box: _settled(box, "000123456789")  # noqa: E731
_BANK_FAILED = lambda box: _settled(box, "000111111116")  # noqa: E731
_REFUNDED = lambda box: _refunded(box, "4242424242424242")  # noqa: E731
_REFUND_FAILED = lambda box: _refunded(box, "4000000000005126")  # noqa: E731
_PRICE = lambda box: box.v1(  # noqa: E731
    "post", "prices", currency="usd", unit_amount=1500, product_data={"name": "Poster"}
)

# Event type -> the flow that makes the sandbox emit it (with the events around it, as Stripe does).
TRIGGERS = {
    "checkout.session.completed": _CARD_PAID,
    "payment_intent.created": _CARD_PAID,
    "payment_intent.succeeded": _CARD_PAID,
    "charge.succeeded": _CARD_PAID,
    "charge.updated": _CARD_PAID,
    "payment_intent.payment_failed": _CARD_DECLINED,
    "charge.failed": _CARD_DECLINED,
    "checkout.session.expired": _expired,
    "payment_intent.processing": _BANK_SETTLED,
    "charge.pending": _BANK_SETTLED,
    "checkout.session.async_payment_succeeded": _BANK_SETTLED,
    "checkout.session.async_payment_failed": _BANK_FAILED,
    "refund.created": _REFUNDED,
    "charge.refunded": _REFUNDED,
    "refund.updated": _REFUND_FAILED,
    "refund.failed": _REFUND_FAILED,
    "charge.refund.updated": _REFUND_FAILED,
    "customer.created": lambda box: box.v1("post", "customers", email="jenny@example.com", name="Jenny"),
    "product.created": _PRICE,
    "price.created": _PRICE,
}


def trigger(args):
    """Run the flow behind ``args.event`` and print the events it produced (oldest first)."""
    box = Sandbox(args.api, args.api_key)
    if args.event not in TRIGGERS:
        raise SystemExit(f"Unsupported event {args.event!r}. Supported: {', '.join(sorted(TRIGGERS))}")
    newest = box.v1("get", "events", limit=1)["data"]
    TRIGGERS[args.event](box)
    for event in reversed(_events_since(box, newest[0]["id"] if newest else None)):
        print(f"{event['type']} [{event['id']}]")
    print("Trigger succeeded!", flush=True)


def _events_since(box, last_id):
    """Events newer than ``last_id`` (all when None), newest first."""
    if last_id is None:
        return box.v1("get", "events", limit=100)["data"]
    return box.v1("get", "events", limit=100, ending_before=last_id)["data"]


def listen(args):
    """Forward every new sandbox event to ``args.forward_to``, signed, printing each with its status."""
    box = Sandbox(args.api, args.api_key)
    secret = args.webhook_secret or "whsec_" + secrets.token_hex(16)
    wanted = set(args.events.split(",")) if args.events else None
    print(f"Ready! Your webhook signing secret is {secret}", flush=True)
    newest = box.v1("get", "events", limit=1)["data"]
    last_id = newest[0]["id"] if newest else None
    forwarded = 0
    with requests.Session() as http:
        while args.max_events is None or forwarded < args.max_events:
            events = list(reversed(_events_since(box, last_id)))
            for event in events:
                last_id = event["id"]
                if wanted is None or event["type"] in wanted:
                    _forward(http, args.forward_to, secret, event)
                    forwarded += 1
            if not events:
                time.sleep(args.poll)


def _forward(http, url, secret, event):
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp}   --> {event['type']} [{event['id']}]", flush=True)
    payload = json.dumps(event, indent=2)
    headers = {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": sign(payload, secret)}
    try:
        status = http.post(url, data=payload.encode(), headers=headers, timeout=30).status_code
    except requests.RequestException as error:
        print(f"{stamp}  <--  [ERR] POST {url} [{event['id']}]: {error}", flush=True)
        return
    print(f"{stamp}  <--  [{status}] POST {url} [{event['id']}]", flush=True)


def run(argv):
    """Parse ``trigger``/``listen`` arguments and run the command."""
    parser = argparse.ArgumentParser(prog="python -m sandbox")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("trigger", "drive the objects behind an event"), ("listen", "forward events")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument(
            "--api", default=DEFAULT_API, help=f"the sandbox's address (default {DEFAULT_API})"
        )
        command.add_argument("--api-key", default="sk_test_sandbox_cli")
    commands.choices["trigger"].add_argument("event", help="event type, e.g. checkout.session.completed")
    listener = commands.choices["listen"]
    listener.add_argument("--forward-to", required=True, help="URL to POST the events to")
    listener.add_argument("--webhook-secret", help="signing secret (generated and printed if omitted)")
    listener.add_argument("--events", help="comma-separated event types to forward (default all)")
    listener.add_argument("--poll", type=float, default=0.5, help="seconds between polls (default 0.5)")
    listener.add_argument("--max-events", type=int, help="exit after forwarding this many events")
    args = parser.parse_args(argv)
    try:
        (trigger if args.command == "trigger" else listen)(args)
    except KeyboardInterrupt:
        sys.exit(0)
