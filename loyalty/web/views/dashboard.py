"""The dashboard: channels with status and health, today's payments and points."""

from __future__ import annotations

from decimal import Decimal

from flask import render_template

from loyalty.services import messages, sms_allowance, sms_pause
from loyalty.services.merchants import get_current_merchant
from loyalty.services.webhooks import endpoints as webhook_endpoints
from loyalty.web import reads
from loyalty.web.blueprint import bp
from loyalty.web.checklist import setup_checklist


@bp.get("/dashboard", endpoint="dashboard")
def dashboard_page():
    overview = reads.channel_overview()
    totals = {"payments": sum(s.today_payments for s in overview),
              "amount": sum((s.today_amount for s in overview), Decimal(0)),
              "points": sum(s.today_points for s in overview)}
    return render_template("web/dashboard.html", merchant=get_current_merchant(),
                           overview=overview, checklist=setup_checklist(overview),
                           totals=totals, quiet_after=reads.QUIET_AFTER,
                           allowance=sms_allowance.current_allowance(),
                           sms_pause=sms_pause.current(messages.sending_account()),
                           disabled_webhooks=webhook_endpoints.disabled_endpoints())
