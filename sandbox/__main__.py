"""Command line entry point: ``python -m sandbox [options]``, ``python -m sandbox trigger|listen ...``."""

import argparse
import secrets
import sys

from werkzeug.serving import run_simple

from . import cli
from .app import create_app
from .faults import FaultError, parse
from .webhooks import RETRY_SCHEDULES


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument(
        "--webhook-url",
        action="append",
        default=[],
        dest="webhook_urls",
        help="deliver events to this URL (repeatable)",
    )
    parser.add_argument("--webhook-secret", help="signing secret (generated if omitted)")
    parser.add_argument("--public-url", help="base URL of hosted pages (default http://HOST:PORT)")
    parser.add_argument(
        "--settle-delay",
        type=float,
        default=10.0,
        help="sandbox seconds before a bank debit settles (default 10)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        dest="faults",
        help='a fault as JSON, e.g. \'{"path": "/v1/checkout/sessions", "status": 500}\' (repeatable)',
    )
    parser.add_argument("--seed", type=int, help="seed for faults and the decline rate (repeatable runs)")
    parser.add_argument(
        "--decline-rate", type=float, default=0.0, help="share (0..1) of good-card payments declined"
    )
    parser.add_argument(
        "--webhook-retries",
        default="sandbox",
        help="webhook retry delays: 'sandbox' (Stripe's test mode), 'live', or seconds like 1,2,4",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.decline_rate <= 1:
        parser.error("--decline-rate must be between 0 and 1")
    try:
        args.webhook_retries = RETRY_SCHEDULES.get(args.webhook_retries) or tuple(
            float(part) for part in args.webhook_retries.split(",") if part
        )
        args.faults = [parse(text, args.seed).spec for text in args.faults]
    except (ValueError, FaultError) as error:
        parser.error(str(error))
    return args


def main(argv=None):
    """Run the sandbox with werkzeug's threaded server until interrupted (or a sub-command)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("trigger", "listen"):
        cli.run(argv)
        return
    args = parse_args(argv)
    secret = args.webhook_secret or "whsec_" + secrets.token_hex(16)
    public_url = args.public_url or f"http://{args.host}:{args.port}"
    app = create_app(
        webhook_urls=args.webhook_urls,
        webhook_secret=secret,
        public_url=public_url,
        settle_delay=args.settle_delay,
        webhook_retry_delays=args.webhook_retries,
        faults=args.faults,
        seed=args.seed,
        decline_rate=args.decline_rate,
    )
    print(f"Stripe sandbox on http://{args.host}:{args.port} (hosted pages at {public_url})")
    print(f"Webhook signing secret: {secret}", flush=True)
    for url in args.webhook_urls:
        print(f"Delivering webhooks to {url}", flush=True)
    for fault in args.faults:
        print(f"Fault: {fault}", flush=True)
    app.sandbox_state.start()
    try:
        run_simple(args.host, args.port, app, threaded=True)
    finally:
        app.sandbox_state.stop()


if __name__ == "__main__":
    main()
