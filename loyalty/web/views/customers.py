"""Customers: find by phone, enrol, balances per program, ledger, texts, redeem, adjust."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from loyalty.errors import DomainError
from loyalty.schemas.customers import (
    AdjustmentCreateSchema,
    CustomerCreateSchema,
    CustomerQueryArgsSchema,
    CustomerUpdateSchema,
    RedemptionCreateSchema,
)
from loyalty.services import adjustments, erasure, payments, programs, redemptions
from loyalty.services import customers as service
from loyalty.web import reads
from loyalty.web.blueprint import bp
from loyalty.web.forms import (
    AdjustForm,
    CustomerEditForm,
    CustomerForm,
    EraseForm,
    FindCustomerForm,
    RedeemForm,
    RewardForm,
    options,
)
from loyalty.web.formtools import checked, load, page, show_error, values


@bp.get("/customers")
def customers():
    form = FindCustomerForm(request.args)
    found = None
    if form.phone.data:
        args = load(form, CustomerQueryArgsSchema(), values(form, ("phone",)))
        if args is not None:
            found = service.list_customers(**args)
            if len(found) == 1:  # one phone is one customer: go straight to them
                return redirect(url_for("web.customer", customer_id=found[0].id))
    recent = service.list_customers(limit=50) if found is None else []
    return page("web/customers.html", form, found=found, recent=recent,
                status=422 if form.phone.errors else 200)


@bp.route("/customers/new", methods=["GET", "POST"])
def new_customer():
    form = CustomerForm()
    # An unticked box says nothing: enrolling a known phone again must not undo its STOP.
    data = checked(form, CustomerCreateSchema(), lambda: {
        **values(form, ("phone", "first_name", "last_name", "language")),
        **{name: True for name in ("sms_opt_out", "marketing_consent") if form[name].data}})
    if data is not None:
        customer = service.enrol_customer(source="web", **data)
        flash(_("Customer enrolled. Earlier payments from this phone are now theirs."), "success")
        return redirect(url_for("web.customer", customer_id=customer.id))
    return page("web/customer_new.html", form)


@bp.get("/customers/<int:customer_id>")
def customer(customer_id: int):
    return _customer_page(customer_id)


@bp.post("/customers/<int:customer_id>/edit")
def edit_customer(customer_id: int):
    """Correct details and consent; the same schema and service as PATCH, source `web`."""
    form = CustomerEditForm()
    data = checked(form, CustomerUpdateSchema(), lambda: {
        **values(form, ("phone",)),
        **values(form, ("first_name", "last_name", "language"), blank="none"),
        "sms_opt_out": form.sms_opt_out.data, "marketing_consent": form.marketing_consent.data})
    if data is not None:
        try:
            service.update_customer(customer_id, source="web", **data)
        except DomainError as error:
            if error.status == 404:
                raise
            show_error(form, error)
        else:
            flash(_("Customer updated."), "success")
            return redirect(url_for("web.customer", customer_id=customer_id))
    return _customer_page(customer_id, status=422, edit_form=form)


@bp.route("/customers/<int:customer_id>/erase", methods=["GET", "POST"])
def erase_customer(customer_id: int):
    """Erasure with a confirmation step: the page says what goes and what stays, and the
    merchant types ERASE."""
    detail = service.customer_detail(customer_id)
    if detail.erased_at is not None:
        flash(_("This customer's personal data was already erased."), "success")
        return redirect(url_for("web.customer", customer_id=customer_id))
    form = EraseForm()
    if form.validate_on_submit():
        if form.confirm.data.strip().upper() == "ERASE":
            erasure.erase_customer(customer_id, source="web")
            flash(_("Personal data erased. The points and payments stay, under the customer's "
                    "number."), "success")
            return redirect(url_for("web.customer", customer_id=customer_id))
        form.confirm.errors = [_("Type ERASE to confirm.")]
    name = " ".join(filter(None, [detail.first_name, detail.last_name])) or f"customer #{customer_id}"
    return render_template(
        "web/customer_erase.html", form=form, name=name, customer_id=customer_id,
        payments=erasure.payment_count(customer_id)), (
        422 if form.is_submitted() else 200)


@bp.post("/customers/<int:customer_id>/redeem")
def redeem(customer_id: int):
    form = _with_programs(RedeemForm())
    return _ledger_action(customer_id, form, RedemptionCreateSchema(), (
        "program", "points", "description", "idempotency_key"), redemptions.redeem_points,
        lambda r: f"Redeemed {r['points']:,} points. Balance now {r['balance']:,}.",
        "redemption", redeem_form=form)


@bp.post("/customers/<int:customer_id>/rewards/<program>/redeem")
def redeem_reward(customer_id: int, program: str):
    """Hand over one waiting stamp-card reward: the API's `redemptions {reward: true}`."""
    form = RewardForm(prefix=_reward_prefix(program))
    if form.validate_on_submit():
        data = load(form, RedemptionCreateSchema(), {
            "program": program, "reward": True, **values(form, ("idempotency_key",))})
        if data is not None:
            try:
                result, created = redemptions.redeem_points(customer_id, **data)
            except DomainError as error:
                if error.status == 404:
                    raise
                show_error(form, error)
            else:
                flash(_("Reward handed over. %(num)s more waiting.", num=result["rewards_available"])
                      if created else _("That reward was already handed over."), "success")
                return redirect(url_for("web.customer", customer_id=customer_id))
    return _customer_page(customer_id, status=422, reward_forms={program: form})


@bp.post("/customers/<int:customer_id>/adjust")
def adjust(customer_id: int):
    form = _with_programs(AdjustForm(prefix="adjust"))
    return _ledger_action(customer_id, form, AdjustmentCreateSchema(), (
        "program", "points", "reason", "idempotency_key"), adjustments.adjust_points,
        lambda a: f"Adjusted by {a['points']:+,} points. Balance now {a['balance']:,}.",
        "adjustment", adjust_form=form)


def _ledger_action(customer_id: int, form, schema, names, action, said, what, **forms):
    """A redemption or an adjustment from its form: the same schema and service as the API,
    once per rendered form (its idempotency key); errors shown on the form."""
    if form.validate_on_submit():
        data = load(form, schema, values(form, names))
        if data is not None:
            try:
                result, created = action(customer_id, **data)
            except DomainError as error:
                if error.status == 404:
                    raise
                show_error(form, error)
            else:
                flash(said(result) if created else f"That {what} was already recorded.",
                      "success")
                return redirect(url_for("web.customer", customer_id=customer_id))
    return _customer_page(customer_id, status=422, **forms)


def _with_programs(form):
    form.program.choices = options((p.code, p.name) for p in programs.list_programs())
    if not form.is_submitted():
        form.idempotency_key.data = uuid.uuid4().hex
    return form


def _reward_prefix(program: str) -> str:
    # Per program: each card's button is its own form, and their inputs need their own ids.
    return "reward-" + "".join(ch if ch.isalnum() else "-" for ch in program)


def _reward_forms(balances: list[dict], failed: dict | None) -> dict[str, RewardForm]:
    """A "hand over" button for each program with a reward waiting (and a failed one kept,
    with its problem, whatever the balance says now)."""
    forms = {}
    for b in balances:
        if b.get("rewards_available"):
            form = forms[b["code"]] = RewardForm(prefix=_reward_prefix(b["code"]), formdata=None)
            form.idempotency_key.data = uuid.uuid4().hex
    return {**forms, **(failed or {})}


def _customer_page(customer_id: int, status: int = 200, redeem_form: RedeemForm | None = None,
                   adjust_form: AdjustForm | None = None,
                   edit_form: CustomerEditForm | None = None,
                   reward_forms: dict[str, RewardForm] | None = None):
    detail = service.customer_detail(customer_id)
    if edit_form is None:
        edit_form = CustomerEditForm(formdata=None, data={
            **{name: getattr(detail, name) for name in (
                "phone", "first_name", "last_name", "sms_opt_out", "marketing_consent")},
            "language": detail.language or ""})
    form = redeem_form or _with_programs(RedeemForm(formdata=None))
    # Prefixed: its inputs must not share ids (and labels) with the redemption form's.
    adjust_form = adjust_form or _with_programs(AdjustForm(prefix="adjust", formdata=None))
    if redeem_form is None and detail.balances:
        # Offer the program the customer has most points in.
        form.program.data = max(detail.balances, key=lambda b: b["points"])["code"]
    return render_template(
        "web/customer.html", customer=detail, form=form, adjust_form=adjust_form,
        edit_form=edit_form, reward_forms=_reward_forms(detail.balances, reward_forms),
        ledger=service.ledger_of(customer_id, limit=50),
        payments=payments.list_payments(customer_id=customer_id, limit=20)["items"],
        messages=reads.messages_for_customer(customer_id)), status
