"""``GET /``: a small index page in development, a plain JSON pointer to the API otherwise."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template, url_for

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> Response | str:
    """Development: links to the demo shop, the API description, the dashboard (once it exists)
    and the health and metrics endpoints. Elsewhere: ``{"api": …, "openapi": …}``."""
    api = url_for("api.openapi", _external=True).removesuffix("/openapi.json")
    if not current_app.config["DEMO_STOREFRONT"]:
        return jsonify(service="hosted-checkout", api=api, openapi=url_for("api.openapi", _external=True))
    dashboard = "/dashboard/" if "dashboard" in current_app.blueprints else None
    return render_template("index.html", api=api, dashboard=dashboard)
