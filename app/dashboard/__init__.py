"""The merchant dashboard (``/dashboard/``): server-rendered pages for a merchant's staff.

Every page needs a signed-in :class:`~app.models.User` (Flask-Login) and shows only that user's
merchant's objects: another merchant's id is a 404 like an unknown one. Every POST carries a
CSRF token (Flask-WTF), checked before anything else; a POST other than sign-in/sign-out from a
``viewer`` is a 403. Actions call the same service functions as the API, with
``source="dashboard"``.

Sessions: the cookie is HttpOnly, SameSite=Lax and, in production, Secure; a session ends after
``DASHBOARD_IDLE_MINUTES`` (default 30) without a request (Flask re-signs the cookie on every
request and refuses one older than ``PERMANENT_SESSION_LIFETIME``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, Flask, abort, render_template, request
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from ..errors import ServiceError
from ..extensions import db
from ..models import User
from ..payments.actor import acting_user
from ..payments.currencies import format_amount
from ..payments.serializers import rfc3339
from ..users import active_user

log = logging.getLogger(__name__)

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
login_manager = LoginManager()
csrf = CSRFProtect()

#: Endpoints reachable without signing in.
PUBLIC_ENDPOINTS = frozenset({"dashboard.signin", "dashboard.static"})
#: POSTs a viewer may send (everything else is an action for admins).
VIEWER_POSTS = frozenset({"dashboard.signin", "dashboard.signout", "dashboard.switch_mode"})


def init_app(app: Flask) -> None:
    """Configure sessions, Flask-Login and CSRF on ``app`` and register the blueprint."""
    idle = timedelta(minutes=int(app.config.get("DASHBOARD_IDLE_MINUTES", 30)))
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["APP_ENV"] == "production",
        PERMANENT_SESSION_LIFETIME=idle,
        SESSION_REFRESH_EACH_REQUEST=True,
        # CSRF is checked for the dashboard's POSTs only (bp.before_request): the JSON API and
        # Stripe's webhook authenticate otherwise and take no cookies.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the (idle-limited) session
    )
    login_manager.init_app(app)
    login_manager.login_view = "dashboard.signin"
    login_manager.login_message = "Sign in to see that page."
    csrf.init_app(app)
    app.register_blueprint(bp)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The session's user, unless it was disabled since (then the session ends)."""
    return active_user(user_id)


@bp.before_request
def guard() -> None:
    """Sign-in required; CSRF token on every POST; viewers may not act (403)."""
    if request.method == "POST":
        csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    if not current_user.is_authenticated:
        abort(login_manager.unauthorized())
    acting_user.set(current_user.id)  # named on the timeline entries of what this user does
    if request.method == "POST" and request.endpoint not in VIEWER_POSTS and not current_user.is_admin:
        log.warning("dashboard_forbidden user_id=%s endpoint=%s", current_user.id, request.endpoint)
        abort(403)


@bp.context_processor
def helpers() -> dict[str, object]:
    """Template helpers: ``money(amount, currency)`` (minor units in) and ``when(datetime)``;
    ``livemode`` (the data shown) and ``test_mode_available`` for the Test mode switch."""
    from .mode import test_mode_available, viewing_livemode

    return {
        "money": format_amount,
        "when": rfc3339,
        "livemode": viewing_livemode(),
        "test_mode_available": test_mode_available(),
    }


@bp.after_request
def no_store(response):  # type: ignore[no-untyped-def]
    """Pages show customer data and one-time secrets: never cache them."""
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


@bp.errorhandler(CSRFError)
def csrf_error(exc: CSRFError) -> tuple[str, int]:
    return render_template(
        "dashboard/error.html",
        title="Form expired",
        message="This form expired or did not come from this page. Go back, reload and try again.",
    ), 400


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError) -> tuple[str, int]:
    db.session.rollback()
    title = "Not found" if exc.status == 404 else "That did not work"
    return render_template("dashboard/error.html", title=title, message=exc.message), exc.status


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> tuple[str, int]:
    messages = {
        403: "Your role (viewer) can look but not change anything. Ask an admin.",
        404: "There is nothing here, or it belongs to another merchant.",
    }
    return render_template(
        "dashboard/error.html",
        title=exc.name,
        message=messages.get(exc.code or 0, exc.description),
    ), exc.code or 500


from . import auth, developers, home, mode, payments  # noqa: E402,F401  (routes register on import)
