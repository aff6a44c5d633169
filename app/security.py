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

from flask import Flask, Response, abort, request

from .errors import InvalidRequest

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


def register_nul_refusal(app: Flask) -> None:
    """Answer 400 to a request holding NUL (U+0000, ``%00``) in its path, a query or form
    parameter or a header, before any view runs. No id, key or text of ours contains it, and
    PostgreSQL can neither store nor compare it (psycopg refuses to send it: a 500); it is
    refused on every database so that the answer does not depend on which one runs. The
    blueprints render the :class:`InvalidRequest` (the API as JSON naming the parameter)."""

    @app.before_request
    def _refuse_nul() -> None:
        param = _first_with_nul()
        if param is None:
            return
        if request.blueprint is None:
            abort(400)
        raise InvalidRequest(f"Invalid {param}: text must not contain NUL (U+0000).", param=param)


def _first_with_nul() -> str | None:
    """The name of the first parameter or header holding NUL (``path`` for the path), or None."""
    if not _may_hold_nul():
        return None
    parts = [
        ("path", request.path),
        *request.args.items(multi=True),
        *request.form.items(multi=True),
        *request.headers.items(),
    ]
    return next((name for name, value in parts if "\x00" in name + value), None)


def _may_hold_nul() -> bool:
    """False when the request certainly holds no NUL: none in the raw WSGI environ (path, headers),
    no ``%00`` in the query string, and no form body. A cheap test (a few µs) that spares
    almost every request building its parameters and headers (~50-80 µs)."""
    environ = request.environ
    return (
        "form" in environ.get("CONTENT_TYPE", "").lower()  # a form body (or a type like one)
        or "%00" in environ.get("QUERY_STRING", "")
        or any(
            "\x00" in key or (isinstance(value, str) and "\x00" in value) for key, value in environ.items()
        )
    )
