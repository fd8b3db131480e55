"""A channel's missed-payment checks (Pull Transactions reconciliation) in the web UI.

The channel's page (views/channels.py) lists its recent runs; from here the merchant
registers the channel for Pull and starts a run over the last N hours. Both go through the
services the API uses (`request_pull_registration`, `start_reconciliation`); this module
only turns the merchant's form into their arguments and their refusals into the
merchant's words.
"""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from loyalty import ratelimits
from loyalty.errors import DomainError, ValidationFailed
from loyalty.models.base import utcnow
from loyalty.schemas.reconciliation import PullRegisterSchema
from loyalty.services import reconciliation
from loyalty.web.blueprint import bp
from loyalty.web.channel_forms import PullRegisterForm, ReconcileForm
from loyalty.web.formtools import load, show_error, values
from loyalty.web.i18n import N_
from loyalty.web.views.channels import render_channel

# The services speak of the API's endpoints; a merchant at the page needs the page's words.
# (N_: in the Swahili catalogue; the form's errors are translated where they are shown.)
IN_MERCHANTS_WORDS = {
    "pull_not_registered": N_("Register this channel for missed-payment checks first (the "
                              "form under “Missed payments”)."),
    "reconciliation_running": N_("A check of this channel is already running; its result "
                                 "appears below when it is done."),
}


def _section(channel_id: int):
    return redirect(url_for("web.channel", channel_id=channel_id, _anchor="missed-payments"))


@bp.post("/channels/<int:channel_id>/pull/register")
@ratelimits.pull_register
def register_pull(channel_id: int):
    form = PullRegisterForm(prefix="pull")
    if form.validate_on_submit():
        data = load(form, PullRegisterSchema(), values(form, ("nominated_number",)))
        if data is not None:
            try:
                reconciliation.request_pull_registration(channel_id, data["nominated_number"])
            except DomainError as error:
                if error.status == 404:
                    raise
                show_error(form, error)
            else:
                flash(_("Asking Safaricom to register this channel for missed-payment checks."),
                      "info")
                return _section(channel_id)
    return render_channel(channel_id, pull_form=form, status=422)


@bp.post("/channels/<int:channel_id>/reconcile")
@ratelimits.reconcile
def reconcile(channel_id: int):
    form = ReconcileForm(prefix="run")
    if form.validate_on_submit():
        hours = int(form.hours.data.strip())
        now = utcnow()
        try:
            reconciliation.start_reconciliation(channel_id, since=now - timedelta(hours=hours),
                                                until=now)
        except ValidationFailed as error:  # the window, checked again by the service
            form.hours.errors = [problem for problems in (error.fields or {}).values()
                                 for problem in problems] or [error.message]
        except DomainError as error:
            if error.status == 404:
                raise
            form.form_errors.append(IN_MERCHANTS_WORDS.get(error.code, error.message))
        else:
            flash(ngettext("Looking for payments of the last %(num)s hour whose confirmation never "
                           "reached us; the result appears below.",
                           "Looking for payments of the last %(num)s hours whose confirmation "
                           "never reached us; the result appears below.", hours), "success")
            return _section(channel_id)
    return render_channel(channel_id, run_form=form, status=422)
