"""Payments (the pages under /transactions): filtered list, the unattributed queue with
attach-to-phone, replay."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import flash, redirect, render_template, request, url_for

from loyalty.errors import DomainError
from loyalty.models import PaymentStatus
from loyalty.schemas.base import INT32_MAX
from loyalty.schemas.payments import AttributeSchema
from loyalty.services import channels, crediting, programs, transactions
from loyalty.services.transactions import EAT
from loyalty.web import reads
from loyalty.web.blueprint import bp
from loyalty.web.forms import ActionForm, AttachForm, TransactionFilterForm, options
from loyalty.web.formtools import load, values

PAGE_SIZE = 50


@bp.get("/transactions", endpoint="transactions")
def transactions_page():
    form = TransactionFilterForm(request.args)
    form.channel.choices = options([("", "All channels")] + _channel_choices())
    form.validate()  # only to read the dates; a bad date is shown and ignored
    cursor = request.args.get("cursor", type=int)
    channel, status = form.channel, form.status
    page = transactions.list_transactions(
        channel_id=int(channel.data) if channel.data and not channel.errors else None,
        status=PaymentStatus(status.data) if status.data and not status.errors else None,
        since=_start_of(form.since.data), until=_start_of(form.until.data, days=1),
        limit=PAGE_SIZE, cursor=cursor if cursor and 0 < cursor <= INT32_MAX else None)
    texts = reads.receipts_for([p.id for p in page["items"]])
    return render_template("web/transactions.html", form=form, page=page, **_names(),
                           texts=texts, action=ActionForm(),
                           next_args=_next_args(page["next_cursor"]))


@bp.get("/transactions/unattributed")
def unattributed():
    """Payments whose payer M-Pesa masked: the merchant attaches each to a phone."""
    page = transactions.list_transactions(status=PaymentStatus.UNATTRIBUTED, limit=100)
    return render_template("web/unattributed.html", page=page, forms={
        p.id: AttachForm(prefix=f"p{p.id}", formdata=None) for p in page["items"]}, **_names())


@bp.post("/transactions/<int:payment_id>/attribute")
def attribute(payment_id: int):
    form = AttachForm(prefix=f"p{payment_id}")
    if form.validate_on_submit():
        data = load(form, AttributeSchema(), values(form, ("phone",)))
        if data is not None and _attempt(crediting.attribute_payment, payment_id, data["phone"]):
            flash("Payment attached and credited.", "success")
            return redirect(url_for("web.unattributed"))
    for problem in [*form.form_errors, *form.phone.errors]:
        flash(problem, "error")
    return redirect(url_for("web.unattributed"))


@bp.post("/transactions/<int:payment_id>/replay")
def replay(payment_id: int):
    if ActionForm().validate_on_submit():
        payment = crediting.replay_payment(payment_id)
        flash(f"Payment {payment.trans_id} is now {payment.status.value}.", "info")
    return redirect(url_for("web.transactions"))


def _attempt(action, *args) -> bool:
    try:
        action(*args)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(error.message, "error")
        return False
    return True


def _channel_choices() -> list[tuple[str, str]]:
    return [(str(c.id), f"{c.name} ({c.shortcode})") for c in channels.list_channels()]


def _names() -> dict:
    return {"channel_names": {c.id: c.name for c in channels.list_channels()},
            "program_names": {p.id: p.name for p in programs.list_programs()}}


def _start_of(day, days: int = 0) -> datetime | None:
    """Nairobi midnight of `day` (+ days): the filter's dates are the merchant's days."""
    return datetime.combine(day + timedelta(days=days), time(), EAT) if day else None


def _next_args(cursor: int | None) -> dict | None:
    if cursor is None:
        return None
    return {**request.args.to_dict(), "cursor": cursor}
