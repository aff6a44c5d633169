"""Security headers on every response, from one ``after_request`` hook.

- ``Content-Security-Policy``: our pages load only our own stylesheets and scripts (the
  dashboard's and the demo shop's static scripts; no inline script or style anywhere), those
  scripts may ask only our own origin (``connect-src 'self'``: the demo shop's thank-you page
  polls its order status) and no other site may frame them. ``form-action`` is left open on
  purpose: browsers apply it to the redirects after a form post, and the demo shop's "Buy"
  form ends on Stripe's hosted page.
- ``X-Frame-Options: DENY`` for browsers without ``frame-ancestors``; ``nosniff``.
- ``Referrer-Policy: no-referrer``: the success page's URL carries the Checkout Session id,
  which must not leak to the merchant's site or anywhere else through ``Referer``.
- ``Cache-Control: no-store`` on everything but static files: receipts, shopper pages and API
  answers hold personal data and must not sit in shared or browser caches.
- ``Strict-Transport-Security`` in production only (development and tests run on plain http).

Sources: OWASP Secure Headers Project; MDN's pages on each header.
"""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: Two years, the value hstspreload.org asks for.
STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains"


def register_security_headers(app: Flask) -> None:
    """Add the headers described in the module doc to every response of ``app``."""
    production = app.config["APP_ENV"] == "production"

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.update(HEADERS)
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        if production:
            response.headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
        return response
