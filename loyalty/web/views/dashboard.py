"""The dashboard: today against yesterday, a live feed of recent payments, and channels
with their health in plain words."""

from __future__ import annotations

from flask import render_template

from loyalty.services import channel_events, messages, sms_allowance, sms_pause
from loyalty.services.merchants import get_current_merchant
from loyalty.services.webhooks import endpoints as webhook_endpoints
from loyalty.web import reads
from loyalty.web.blueprint import bp
from loyalty.web.checklist import setup_checklist


@bp.get("/dashboard", endpoint="dashboard")
def dashboard_page():
    overview = reads.channel_overview()
    return render_template("web/dashboard.html", merchant=get_current_merchant(),
                           overview=overview, checklist=setup_checklist(overview), **_live(overview),
                           health={s.channel.id: reads.channel_health(s) for s in overview},
                           allowance=sms_allowance.current_allowance(),
                           sms_pause=sms_pause.current(messages.sending_account()),
                           disabled_webhooks=webhook_endpoints.disabled_endpoints(),
                           channel_notices=channel_events.notices())


@bp.get("/dashboard/live", endpoint="dashboard_live")
def dashboard_live():
    """The dashboard's live part alone (today's figures and the feed): app.js fetches it
    every few seconds and swaps it in, so a payment shows up without a reload."""
    return render_template("web/_dashboard_live.html", **_live(reads.channel_overview()))


def _live(overview: list[reads.ChannelSummary]) -> dict:
    today, yesterday = reads.today_and_yesterday()
    return {"today": today, "yesterday": yesterday, "feed": reads.recent_payments(),
            "channels": [s.channel for s in overview]}
