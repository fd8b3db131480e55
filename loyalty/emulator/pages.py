"""The page a person uses at `/_emulator/`: pay a merchant, read the texts, see the callbacks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from loyalty.emulator.c2b import simulate_payment
from loyalty.emulator.core import Emulator
from loyalty.emulator.errors import DarajaError
from loyalty.emulator.sms_reports import send_inbound
from loyalty.phones import InvalidPhone, normalise_msisdn

bp = Blueprint("emulator_pages", __name__, url_prefix="/_emulator",
               template_folder="templates")

DEFAULT_FORM = {"shortcode": "600000", "amount": "500", "account": "VIP001",
                "phone": "254708374149", "first_name": "John", "command": "paybill"}


def emulator() -> Emulator:
    return current_app.extensions["emulator"]


def _render(form: dict[str, Any], error: str | None = None, status: int = 200,
            sms_form: dict[str, Any] | None = None, sms_error: str | None = None):
    state = emulator().state
    page = render_template(
        "emulator/index.html", form=form, error=error, paid=request.args.get("paid"),
        texted=request.args.get("texted"), sms_error=sms_error,
        sms_form=sms_form or {"sms_from": DEFAULT_FORM["phone"], "sms_text": "STOP"},
        sms_delivery=state.settings()["sms_delivery"],
        inbox=state.inbox(20), deliveries=state.deliveries(20),
        registrations=state.registrations(), pull_registrations=state.pull_registrations(),
    )
    return page, status


@bp.get("/")
def index():
    return _render(dict(DEFAULT_FORM))


@bp.post("/simulate")
def simulate():
    form = {name: request.form.get(name, "").strip() for name in DEFAULT_FORM}
    command = ("CustomerBuyGoodsOnline" if form["command"] == "buygoods"
               else "CustomerPayBillOnline")
    try:
        payment = simulate_payment(
            emulator(), shortcode=form["shortcode"], amount=form["amount"],
            msisdn=form["phone"], bill_ref=form["account"], command_id=command,
            first_name=form["first_name"],
            drop_confirmation=request.form.get("drop_confirmation") == "1",
        )
    except DarajaError as error:
        return _render(form, error=error.message.removeprefix("Bad Request - "), status=400)
    # Post/redirect/get: a reload must not pay twice.
    return redirect(url_for("emulator_pages.index", paid=payment["trans_id"]), code=303)


@bp.post("/sms-inbound")
def sms_inbound():
    """The customer's handset texts the platform's shortcode (e.g. STOP)."""
    sms_form = {name: request.form.get(name, "").strip() for name in ("sms_from", "sms_text")}
    try:
        phone = normalise_msisdn(sms_form["sms_from"])
    except InvalidPhone as exc:
        return _render(dict(DEFAULT_FORM), sms_form=sms_form, sms_error=str(exc), status=400)
    if not sms_form["sms_text"]:
        return _render(dict(DEFAULT_FORM), sms_form=sms_form,
                       sms_error="Type the text, e.g. STOP.", status=400)
    send_inbound(emulator(), phone, sms_form["sms_text"][:160], emulator().sms_shortcode)
    return redirect(url_for("emulator_pages.index", texted=sms_form["sms_text"][:160]), code=303)
