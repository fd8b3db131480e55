"""The dashboard: today against yesterday, a live feed of recent payments, and channels
with their health in plain words."""

from __future__ import annotations

from flask import render_template, request, url_for

from loyalty.services import channel_events, messages, sms_allowance, sms_pause
from loyalty.services.merchants import get_current_merchant
from loyalty.services.webhooks import endpoints as webhook_endpoints
from loyalty.web import reads
from loyalty.web.blueprint import bp
from loyalty.web.checklist import setup_checklist


@bp.get("/dashboard", endpoint="dashboard")
def dashboard_page():
    live = _live(keep_checklist=False)
    # A page that shows the checklist asks for it even once it is all done, so the last
    # step is seen ticked instead of the box vanishing under the merchant's eyes.
    live_url = url_for("web.dashboard_live", checklist=1 if live["checklist"] else None)
    return render_template("web/dashboard.html", merchant=get_current_merchant(),
                           live_url=live_url, **live,
                           allowance=sms_allowance.current_allowance(),
                           sms_pause=sms_pause.current(messages.sending_account()),
                           disabled_webhooks=webhook_endpoints.disabled_endpoints(),
                           channel_notices=channel_events.notices())


@bp.get("/dashboard/live", endpoint="dashboard_live")
def dashboard_live():
    """The dashboard's live parts alone (the setup checklist, today's figures and the feed,
    the channel cards): app-live.js fetches them every few seconds and swaps each in, so a
    payment shows up everywhere it counts without a reload."""
    return render_template("web/_dashboard_live.html",
                           **_live(keep_checklist=request.args.get("checklist") == "1"))


def _live(*, keep_checklist: bool) -> dict:
    overview = reads.channel_overview()
    today, yesterday = reads.today_and_yesterday()
    return {"today": today, "yesterday": yesterday, "feed": reads.recent_payments(),
            "channels": [s.channel for s in overview], "overview": overview,
            "health": {s.channel.id: reads.channel_health(s) for s in overview},
            "checklist": setup_checklist(overview, keep_when_done=keep_checklist)}
