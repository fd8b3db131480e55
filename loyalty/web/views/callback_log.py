"""The callback log page: what Safaricom sent to the merchant's channels that did not become
a payment, with a replay button for payment confirmations, M-Pesa Express results and
Safaricom's answers to balance, status and reversal requests."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from loyalty.errors import DomainError
from loyalty.services import callback_review, channels
from loyalty.web.blueprint import bp, kes
from loyalty.web.forms import ActionForm, CallbackLogFilterForm, options

PAGE_SIZE = 30

# Why a message is here, in the merchant's words.
OUTCOMES = {
    "rejected": (_l("Refused"), "failed"),
    "refused_ip": (_l("Blocked sender"), "failed"),
    "result": (_l("Safaricom's answer"), ""),
    "duplicate": (_l("Repeated"), "warning"),
    "store_failed": (_l("Not stored"), "warning"),
    "unknown_token": (_l("Unknown address"), "failed"),
}
# callback_review.KINDS in the page's language (the service's words are the API's, English).
KINDS = {
    "c2b_confirmation": _l("Payment confirmation"),
    "c2b_validation": _l("Payment validation"),
    "stk_result": _l("M-Pesa Express result"),
    "result_balance": _l("Balance check result"),
    "timeout_balance": _l("Balance check timed out"),
    "result_status": _l("Transaction status result"),
    "timeout_status": _l("Transaction status timed out"),
    "result_reversal": _l("Reversal result"),
    "timeout_reversal": _l("Reversal timed out"),
}


@bp.get("/callback-log", endpoint="callback_log")
def callback_log_page():
    form = CallbackLogFilterForm(request.args)
    names = {c.id: c.name for c in channels.list_channels()}
    form.channel.choices = options([("", _l("All channels"))] + [(i, n) for i, n in names.items()])
    kinds = {kind: KINDS.get(kind, label) for kind, label in callback_review.KINDS.items()}
    form.kind.choices = options([("", _l("Anything"))] + list(kinds.items()))
    channel = form.channel.data if form.channel.data in {str(i) for i in names} else None
    kind = form.kind.data if form.kind.data in callback_review.KINDS else None
    cursor = request.args.get("cursor", type=int)
    page = callback_review.list_entries(channel_id=int(channel) if channel else None, kind=kind,
                                     cursor=cursor if cursor and 0 < cursor < 2**31 else None,
                                     limit=PAGE_SIZE)
    next_args = None
    if page["next_cursor"] is not None:
        next_args = {**request.args.to_dict(), "cursor": page["next_cursor"]}
    return render_template("web/callback_log.html", form=form, page=page, channel_names=names,
                           kinds=kinds, replayable=callback_review.REPLAYABLE,
                           outcomes=OUTCOMES, next_args=next_args)


@bp.post("/callback-log/<int:entry_id>/replay")
def replay_callback(entry_id: int):
    if ActionForm().validate_on_submit():
        try:
            payment = callback_review.replay_entry(entry_id)
        except DomainError as error:
            if error.status == 404:
                raise
            flash(f"Not replayed: {error.message}", "error")
        else:
            if isinstance(payment, callback_review.ResultReplay):
                return _result_replayed(payment)
            flash(f"Payment {payment.trans_id} of {kes(payment.amount)} is "
                  f"{payment.status.value}"
                  f"{': ' + payment.error if payment.error else '.'}", "success")
    return redirect(url_for("web.callback_log"))


def _result_replayed(replayed: callback_review.ResultReplay):
    what = callback_review.KINDS.get(replayed.kind, replayed.kind)
    if replayed.applied:
        about = replayed.transaction
        flash(f"{what}: applied" + (f" to payment {about.trans_id}, now {about.status.value}."
                                    if about else "."), "success")
    else:
        flash(f"{what}: nothing changed. {replayed.note}", "warning")
    return redirect(url_for("web.callback_log"))
