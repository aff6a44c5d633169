"""Application factory wiring the API, hosted page and control endpoints together."""

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException

from .api import api, error_response, unrecognized_url
from .control import control
from .errors import StripeError
from .faults import FaultMiddleware
from .hosted import hosted
from .objects import new_id
from .state import SandboxState
from .webhooks import COMPRESSED_RETRIES


def create_app(
    *,
    webhook_urls=(),
    webhook_secret="whsec_test",
    public_url="http://127.0.0.1:12111",
    settle_delay=10.0,
    webhook_retry_delays=COMPRESSED_RETRIES,
    faults=(),
    seed=None,
    decline_rate=0.0,
):
    """Build the sandbox Flask app.

    ``webhook_retry_delays``: seconds before each webhook retry; the default is
    Stripe's backoff compressed for tests (``COMPRESSED_RETRIES``); pass
    ``webhooks.SANDBOX_RETRIES`` for Stripe's own (``python -m sandbox`` uses it). ``faults``: fault specs
    (dicts, see :mod:`sandbox.faults`) in force from the start; ``seed``: makes
    faults and the decline rate repeatable; ``decline_rate`` (0..1): share of
    good-card payments declined (``generic_decline``). Raises
    :class:`~sandbox.faults.FaultError` for a bad fault.

    The state is on ``app.sandbox_state``; its background threads (webhook
    delivery, sweeper) start on the first request or on ``app.sandbox_state.start()``
    and stop with ``app.sandbox_state.stop()``.
    """
    app = Flask(__name__, static_folder=None)
    app.sandbox_state = SandboxState(
        webhook_urls=webhook_urls,
        webhook_secret=webhook_secret,
        public_url=public_url,
        settle_delay=settle_delay,
        webhook_retry_delays=webhook_retry_delays,
        seed=seed,
        decline_rate=decline_rate,
    )
    for spec in faults:
        app.sandbox_state.faults.add(spec)
    app.wsgi_app = FaultMiddleware(app.wsgi_app, app.sandbox_state.faults)
    app.register_blueprint(api)
    app.register_blueprint(hosted)
    app.register_blueprint(control)

    @app.before_request
    def _start_threads():
        g.request_id = new_id("req_", 14)
        app.sandbox_state.start()

    @app.after_request
    def _request_id(response):
        # Every Stripe response names its request, errors and replays included.
        response.headers.setdefault("Request-Id", g.get("request_id") or new_id("req_", 14))
        return response

    @app.errorhandler(404)
    @app.errorhandler(405)
    def _not_found(error):
        if request.path.startswith("/v1/") or request.path == "/v1":
            return unrecognized_url()
        return error

    @app.errorhandler(Exception)
    def _internal_error(error):
        if isinstance(error, HTTPException):
            return error
        app.logger.exception("Unhandled sandbox error")
        if request.path.startswith("/v1/"):
            return error_response(
                StripeError("An unexpected error occurred in the sandbox.", status=500, type="api_error")
            )
        return "Internal sandbox error", 500

    return app
