"""Running it in production: request ids and structured logs, health checks, Prometheus
metrics, and the proxy settings that make the app build ``https`` URLs behind TLS termination."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import health, logs, metrics


def init_app(app: Flask) -> None:
    """Register logging, request ids, ``/healthz``, ``/readyz``, ``/metrics`` and ProxyFix.

    ``TRUSTED_PROXIES`` is how many proxies in front of us set ``X-Forwarded-*``; we believe
    exactly that many hops (Werkzeug's ProxyFix), so a client cannot forge its scheme or address.
    """
    logs.init_app(app)
    health.init_app(app)
    metrics.init_app(app)
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )
