"""Sign-in and sign-out, with failed sign-ins limited per address and per account.

Each limit allows :data:`FAILED_SIGNIN_LIMIT` failures (Flask-Limiter counts a request only when
the sign-in failed); past it every attempt, right or wrong, gets 429 and the same message, for
known and unknown emails alike, so the limit does not tell whether an account exists.
"""

from __future__ import annotations

from flask import g, redirect, render_template, request, session, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from ..db import unit_of_work
from ..extensions import limiter
from ..users import authenticate, normalise_email
from . import bp
from .forms import SignInForm

FAILED_SIGNIN_LIMIT = "5 per 15 minutes"
BAD_CREDENTIALS = "That email and password do not match an active account."
TOO_MANY = "Too many failed sign-ins. Wait 15 minutes and try again."


def _failed(_response: Response) -> bool:
    return bool(g.get("signin_failed"))


def _account_key() -> str:
    return "signin-account:" + normalise_email(request.form.get("email", ""))


@bp.route("/signin", methods=["GET", "POST"])
@limiter.limit(FAILED_SIGNIN_LIMIT, methods=["POST"], deduct_when=_failed)
@limiter.limit(FAILED_SIGNIN_LIMIT, methods=["POST"], deduct_when=_failed, key_func=_account_key)
def signin() -> Response | tuple[str, int] | str:
    """The sign-in form; on success a fresh session (idle-limited) and a redirect home."""
    form = SignInForm()
    if form.validate_on_submit():
        with unit_of_work():
            user = authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            session.clear()  # no session fixation: nothing from before signing in survives
            session.permanent = True
            login_user(user)
            return redirect(url_for("dashboard.home"))
        g.signin_failed = True
        return render_template("dashboard/signin.html", form=form, error=BAD_CREDENTIALS), 401
    return render_template("dashboard/signin.html", form=form, error=None)


@bp.errorhandler(RateLimitExceeded)
def too_many_signins(exc: RateLimitExceeded) -> tuple[str, int]:
    return render_template("dashboard/signin.html", form=SignInForm(), error=TOO_MANY), 429


@bp.post("/signout")
def signout() -> Response:
    """End the session."""
    logout_user()
    session.clear()
    return redirect(url_for("dashboard.signin"))
