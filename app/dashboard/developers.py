"""Developers: webhook endpoints (create, enable/disable, delete, rotate the secret, send a test
event, recent deliveries, resend) and API keys (create, list, revoke).

Secrets and keys are shown once, in the response to the POST that made them (never in a
redirect's flash message, which would put them in the session cookie).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from ..db import unit_of_work
from ..merchants import api_key_status, issue_api_key, list_api_keys, revoke_api_key
from ..notifications.endpoints import create_endpoint, delete_endpoint, rotate_secret, set_endpoint_enabled
from ..notifications.outbox import resend
from ..notifications.settings import current_settings
from . import bp
from .endpoint_actions import send_test_event
from .forms import EndpointForm
from .mode import viewing_livemode
from .queries import attempts_of, endpoint_or_404, endpoints_of, event_or_404, recent_deliveries


@bp.route("/developers/webhooks", methods=["GET", "POST"])
def webhooks() -> str | tuple[str, int]:
    """The merchant's endpoints and the form to add one (it receives every event type)."""
    form = EndpointForm()
    if request.method == "POST":
        if not form.validate():
            return _webhooks_page(form), 400
        with unit_of_work():
            endpoint, secret = create_endpoint(
                current_user.merchant,
                {"url": form.url.data, "enabled_events": ["*"], "description": form.description.data or None},
                current_settings(),
                livemode=viewing_livemode(),
            )
        return _endpoint_page(endpoint.id, secret=secret, notice="Endpoint created.")
    return _webhooks_page(form)


def _webhooks_page(form: EndpointForm) -> str:
    return render_template(
        "dashboard/webhooks.html",
        endpoints=endpoints_of(current_user.merchant_id, viewing_livemode()),
        form=form,
    )


@bp.get("/developers/webhooks/<endpoint_id>")
def webhook(endpoint_id: str) -> str:
    """One endpoint and its recent messages (``?failed=1``: only those not delivered)."""
    return _endpoint_page(endpoint_id)


def _endpoint_page(endpoint_id: str, *, secret: str | None = None, notice: str | None = None) -> str:
    endpoint = endpoint_or_404(current_user.merchant_id, endpoint_id, viewing_livemode())
    failed_only = request.args.get("failed") == "1"
    deliveries = recent_deliveries(endpoint.id, failed_only=failed_only)
    return render_template(
        "dashboard/webhook.html",
        endpoint=endpoint,
        deliveries=deliveries,
        attempts=attempts_of([delivery.id for delivery, _ in deliveries]),
        failed_only=failed_only,
        secret=secret,
        notice=notice,
    )


@bp.post("/developers/webhooks/<endpoint_id>/rotate")
def rotate(endpoint_id: str) -> str:
    """A new signing secret, shown once; the old one keeps signing for 24 hours."""
    endpoint = endpoint_or_404(current_user.merchant_id, endpoint_id, viewing_livemode())
    with unit_of_work():
        secret = rotate_secret(endpoint, current_settings())
    return _endpoint_page(
        endpoint_id, secret=secret, notice="Secret rotated. The previous one also signs for 24 hours."
    )


@bp.post("/developers/webhooks/<endpoint_id>/enabled")
def set_enabled(endpoint_id: str) -> Response:
    """``enabled=1`` enables the endpoint, anything else disables it."""
    endpoint = endpoint_or_404(current_user.merchant_id, endpoint_id, viewing_livemode())
    enabled = request.form.get("enabled") == "1"
    with unit_of_work():
        set_endpoint_enabled(endpoint, enabled, reason=f"Disabled in the dashboard by {current_user.email}.")
    flash("Endpoint enabled." if enabled else "Endpoint disabled: it gets no events.", "success")
    return redirect(url_for("dashboard.webhook", endpoint_id=endpoint_id))


@bp.post("/developers/webhooks/<endpoint_id>/delete")
def delete(endpoint_id: str) -> Response:
    """Delete the endpoint (its queued messages are failed unsent)."""
    endpoint = endpoint_or_404(current_user.merchant_id, endpoint_id, viewing_livemode())
    with unit_of_work():
        delete_endpoint(endpoint)
    flash(f"Endpoint {endpoint.url} deleted.", "success")
    return redirect(url_for("dashboard.webhooks"))


@bp.post("/developers/webhooks/<endpoint_id>/test")
def send_test(endpoint_id: str) -> Response:
    """Queue a test event to this endpoint; the worker sends it within seconds."""
    endpoint = endpoint_or_404(current_user.merchant_id, endpoint_id, viewing_livemode())
    with unit_of_work():
        event = send_test_event(endpoint)
    flash(f"Test event {event.id} queued.", "success")
    return redirect(url_for("dashboard.webhook", endpoint_id=endpoint_id))


@bp.post("/events/<event_id>/resend")
def resend_event(event_id: str) -> Response:
    """Queue the event again to each enabled endpoint subscribed to it (the API's ``resend``),
    then go back to the page the button was on."""
    event = event_or_404(current_user.merchant_id, event_id, viewing_livemode())
    with unit_of_work():
        queued = resend(event)
    flash(f"Event {event.id} queued again to {len(queued)} endpoint(s).", "success")
    back = request.form.get("next", "")
    return redirect(back if back.startswith("/dashboard/") else url_for("dashboard.home"))


@bp.route("/developers/api-keys", methods=["GET", "POST"])
def api_keys() -> str:
    """The merchant's API keys (prefix, created, last used, revoked); POST creates one, shown once."""
    new_key = None
    if request.method == "POST":
        with unit_of_work():
            new_key = issue_api_key(current_user.merchant, livemode=viewing_livemode())
    return render_template(
        "dashboard/api_keys.html",
        keys=list_api_keys(current_user.merchant_id, viewing_livemode()),
        new_key=new_key,
        status=api_key_status,
    )


@bp.post("/developers/api-keys/<int:key_id>/revoke")
def revoke_key(key_id: int) -> Response:
    """Revoke a key: requests with it get 401 from now on."""
    with unit_of_work():
        revoke_api_key(current_user.merchant_id, key_id, viewing_livemode())
    flash("API key revoked.", "success")
    return redirect(url_for("dashboard.api_keys"))
