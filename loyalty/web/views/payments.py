"""Payments (the pages under /transactions): filtered list, the unattributed queue with
attach-to-phone, replay, and a payment's own page where it is reversed."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from loyalty import ratelimits
from loyalty.errors import DomainError
from loyalty.models import PaymentStatus
from loyalty.schemas.base import INT32_MAX
from loyalty.schemas.payments import AttributeSchema, ReversalRequestSchema
from loyalty.services import channels, crediting, payments, programs, reversals
from loyalty.services.payments import EAT
from loyalty.web import reads
from loyalty.web.blueprint import bp
from loyalty.web.forms import (
    ActionForm,
    AttachForm,
    ReversalAmountForm,
    ReversalForm,
    TransactionFilterForm,
    options,
)
from loyalty.web.formtools import load, show_error, values
from loyalty.web.i18n import say

PAGE_SIZE = 50


@bp.get("/transactions", endpoint="transactions")
def transactions_page():
    form = TransactionFilterForm(request.args)
    form.channel.choices = options([("", _l("All channels"))] + _channel_choices())
    form.validate()  # only to read the dates; a bad date is shown and ignored
    cursor = request.args.get("cursor", type=int)
    channel, status = form.channel, form.status
    page = payments.list_payments(
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
    return _unattributed_page()


@bp.post("/transactions/<int:payment_id>/attribute")
def attribute(payment_id: int):
    form = AttachForm(prefix=f"p{payment_id}")
    if form.validate_on_submit():
        data = load(form, AttributeSchema(), values(form, ("phone",)))
        if data is not None:
            try:
                crediting.attribute_payment(payment_id, data["phone"])
            except DomainError as error:
                if error.status == 404:
                    raise
                show_error(form, error)
            else:
                flash(_("Payment attached and credited."), "success")
                return redirect(url_for("web.unattributed"))
    # The page again with what was typed still in its box and the problem beside it.
    return _unattributed_page({payment_id: form}, status=422)


def _unattributed_page(failed: dict | None = None, status: int = 200):
    page = payments.list_payments(status=PaymentStatus.UNATTRIBUTED, limit=100)
    forms = {p.id: AttachForm(prefix=f"p{p.id}", formdata=None) for p in page["items"]}
    return render_template("web/unattributed.html", page=page, forms={**forms, **(failed or {})},
                           **_names()), status


@bp.post("/transactions/<int:payment_id>/replay")
def replay(payment_id: int):
    if ActionForm().validate_on_submit():
        payment = crediting.replay_payment(payment_id)
        flash(f"Payment {payment.trans_id} is now {payment.status.value}.", "info")
    return redirect(url_for("web.transactions"))


@bp.get("/transactions/<int:payment_id>")
def payment(payment_id: int):
    """One payment; a credited one shows what reversing it would take back, then the two
    ways to reverse it."""
    return _payment_page(payment_id)


@bp.post("/transactions/<int:payment_id>/reverse")
@ratelimits.reverse
def reverse(payment_id: int):
    return _reversal(payment_id, "mpesa", reversals.request_reversal)


@bp.post("/transactions/<int:payment_id>/mark-reversed")
def mark_reversed(payment_id: int):
    return _reversal(payment_id, "manual", reversals.mark_reversed)


def _reversal(payment_id: int, way: str, action):
    form = ReversalForm(prefix=way)
    if form.validate_on_submit():
        data = load(form, ReversalRequestSchema(),
                    values(form, ("amount", "reason", "idempotency_key")))
        if data is not None:
            try:
                done, created = action(payment_id, **data)
            except DomainError as error:
                if error.status == 404:
                    raise
                show_error(form, error)
            else:
                flash(say(done.reversal.message) if created else
                      _("That reversal was already recorded."), "success")
                return redirect(url_for("web.payment", payment_id=payment_id))
    return _payment_page(payment_id, form, status=422)


def _payment_page(payment_id: int, failed: ReversalForm | None = None, status: int = 200):
    amount_form = ReversalAmountForm(request.args)
    amount = None
    raw = failed.amount.data if failed is not None else amount_form.amount.data
    if raw:
        loaded = load(amount_form, ReversalRequestSchema(only=("amount",)), {"amount": raw})
        amount = loaded["amount"] if loaded else None
    preview = reversals.preview(payment_id, amount)
    if preview["problem"] and amount is not None:
        # The amount is the problem (more than the payment): say so, offer all of it.
        amount_form.amount.errors = [preview["problem"]]
        amount, preview = None, reversals.preview(payment_id)
    forms = {}
    for way in ("mpesa", "manual"):
        form = failed if failed is not None and failed._prefix == way + "-" else \
            ReversalForm(prefix=way, formdata=None)
        form.amount.data = "" if amount is None else str(amount)
        if not form.idempotency_key.data:
            form.idempotency_key.data = uuid.uuid4().hex
        forms[way] = form
    if amount is not None:
        amount_form.amount.data = str(amount)
    return render_template("web/payment.html", p=preview["payment"], preview=preview,
                           amount_form=amount_form, forms=forms,
                           messages=reads.messages_for_payment(payment_id), **_names()), status


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
