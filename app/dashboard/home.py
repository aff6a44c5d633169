"""The home page: the last 30 days at a glance, and what needs attention."""

from __future__ import annotations

from functools import partial

from flask import render_template
from flask_login import current_user

from ..payments.currencies import format_amount
from . import bp
from .charts import bar_chart
from .mode import viewing_livemode
from .queries import home_figures


@bp.get("/")
def home() -> str:
    """Gross volume per currency and payments per day (SVG), success rate, counts by status,
    payments stuck in pending/processing and failing webhook endpoints."""
    figures = home_figures(current_user.merchant_id, livemode=viewing_livemode())
    volume_charts = {
        currency: bar_chart(figures.days, per_day, partial(format_amount, currency=currency))
        for currency, per_day in figures.volume.items()
    }
    count_chart = bar_chart(figures.days, figures.counts)
    return render_template(
        "dashboard/home.html", figures=figures, volume_charts=volume_charts, count_chart=count_chart
    )
