"""Command line entry point: ``python -m sandbox [options]``."""

import argparse
import secrets

from werkzeug.serving import run_simple

from .app import create_app


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
    return parser.parse_args(argv)


def main(argv=None):
    """Run the sandbox with werkzeug's threaded server until interrupted."""
    args = parse_args(argv)
    secret = args.webhook_secret or "whsec_" + secrets.token_hex(16)
    public_url = args.public_url or f"http://{args.host}:{args.port}"
    app = create_app(
        webhook_urls=args.webhook_urls,
        webhook_secret=secret,
        public_url=public_url,
        settle_delay=args.settle_delay,
    )
    print(f"Stripe sandbox on http://{args.host}:{args.port} (hosted pages at {public_url})")
    print(f"Webhook signing secret: {secret}", flush=True)
    for url in args.webhook_urls:
        print(f"Delivering webhooks to {url}", flush=True)
    app.sandbox_state.start()
    try:
        run_simple(args.host, args.port, app, threaded=True)
    finally:
        app.sandbox_state.stop()


if __name__ == "__main__":
    main()
