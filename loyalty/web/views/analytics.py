"""Per-channel analytics: payments, amount and points per day, as charts and a table."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import request

from loyalty.services import channels, payments
from loyalty.services.payments import EAT
from loyalty.web import charts
from loyalty.web.blueprint import bp
from loyalty.web.forms import AnalyticsForm
from loyalty.web.formtools import page

DEFAULT_DAYS = 14


@bp.get("/analytics")
def analytics():
    form = AnalyticsForm(request.args)
    form.validate()  # a bad date is shown next to its field and the default used
    until = form.until.data or datetime.now(EAT).date()
    since = form.since.data or until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        form.since.errors = list(form.since.errors) + ["Must be on or before 'To'."]
        since = until - timedelta(days=DEFAULT_DAYS - 1)
    if (until - since).days >= charts.MAX_DAYS:
        since = until - timedelta(days=charts.MAX_DAYS - 1)
        form.since.errors = list(form.since.errors) + [
            f"Charts show at most {charts.MAX_DAYS} days: starting on {since:%d %b %Y}."]
    form.since.data, form.until.data = since, until  # show the period actually drawn
    rows = payments.channel_analytics(since, until)
    figures = charts.channel_figures(rows, channels.list_channels(), since, until)
    return page("web/analytics.html", form, status=200, figures=figures, since=since,
                until=until)
