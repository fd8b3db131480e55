"""Branding: the look (name, colours, logo), sender IDs and an own SMS account."""

from __future__ import annotations

from flask import current_app, flash, redirect, url_for
from flask_babel import gettext as _

from loyalty.api.input_guard import upload
from loyalty.errors import DomainError
from loyalty.schemas.branding import BrandingUpdateSchema, SenderIdRequestSchema, SmsProviderSchema
from loyalty.services import branding, merchants, sender_ids, sms_accounts
from loyalty.web.blueprint import bp
from loyalty.web.brand_forms import (
    STANDARD_COLORS,
    BrandingForm,
    LogoForm,
    SenderIdForm,
    SmsAccountForm,
)
from loyalty.web.formtools import attach, checked, page, show_error, values


def _shown(merchant, name: str) -> str:
    """What a colour picker shows: the merchant's colour, else the UI's own."""
    return getattr(merchant, f"brand_{name}") or STANDARD_COLORS[name]


def _look(form, merchant) -> dict:
    """The changes the look form asks for. A picker always submits a colour, so a colour
    is sent only when it differs from what its picker showed: saving a new name alone
    never sets (or trips the contrast check on) a colour. The box clears both."""
    data = values(form, ("display_name",), blank="none")
    if form.standard_colors.data:
        return {**data, "primary_color": None, "accent_color": None}
    for name in STANDARD_COLORS:
        value = (form[name].data or "").strip()
        if value and value.lower() != _shown(merchant, name).lower():
            data[name] = value
    return data


def _render(**forms):
    merchant = merchants.get_current_merchant()
    # The forms not submitted start empty (formdata=None: not read from this request's form).
    look = forms.get("look") or BrandingForm(
        formdata=None, data={"display_name": merchant.brand_display_name,
                             "primary_color": _shown(merchant, "primary_color"),
                             "accent_color": _shown(merchant, "accent_color"),
                             "standard_colors": not (merchant.brand_primary_color
                                                     or merchant.brand_accent_color)})
    failed = next((f for f in forms.values() if f.errors or f.form_errors), look)
    return page("web/branding.html", failed, look=look,
                logo_form=forms.get("logo") or LogoForm(formdata=None),
                sender_form=forms.get("sender") or SenderIdForm(formdata=None),
                sms_form=forms.get("sms") or SmsAccountForm(formdata=None),
                merchant=merchant, sender_ids=sender_ids.sender_ids(),
                default_sender=current_app.config.get("AT_SENDER_ID"),
                sms_account=sms_accounts.account_of(merchant))


@bp.route("/settings/branding", methods=["GET", "POST"])
def branding_page():
    form = BrandingForm()
    merchant = merchants.get_current_merchant()
    data = checked(form, BrandingUpdateSchema(), lambda: _look(form, merchant))
    if data is not None:
        try:
            merchants.update_current_merchant({"branding": data})
        except DomainError as error:  # a colour without contrast: said next to it
            attach(form, (error.fields or {}).get("branding") or {"": [error.message]})
            return _render(look=form)
        flash(_("Branding saved."), "success")
        return redirect(url_for("web.branding_page"))
    return _render(look=form) if form.is_submitted() else _render()


@bp.route("/settings/branding/logo", methods=["POST"])
@upload(branding.MAX_LOGO_BYTES + 16 * 1024)
def branding_logo():
    form = LogoForm()
    if form.validate_on_submit():
        try:
            branding.set_logo(form.logo.data.stream.read(branding.MAX_LOGO_BYTES + 1))
        except DomainError as error:
            form.logo.errors = [error.message.removeprefix("logo: ")]
            return _render(logo=form)
        flash(_("Logo saved."), "success")
        return redirect(url_for("web.branding_page"))
    return _render(logo=form)


@bp.route("/settings/branding/logo/remove", methods=["POST"])
def branding_logo_remove():
    branding.remove_logo()
    flash(_("Logo removed."), "success")
    return redirect(url_for("web.branding_page"))


def _save(form, name: str, schema, fields: tuple[str, ...], act, done: str):
    """One of the page's smaller forms: checked, handed to the service (`act(data)`), then
    back to the page with `done`, or the page again with the problems next to this form
    (`name` is its key in _render)."""
    data = checked(form, schema, lambda: values(form, fields))
    if data is not None:
        try:
            act(data)
        except DomainError as error:
            show_error(form, error)
            return _render(**{name: form})
        flash(done, "success")
        return redirect(url_for("web.branding_page"))
    return _render(**{name: form})


@bp.route("/settings/sender-id", methods=["POST"])
def sender_id_request():
    return _save(SenderIdForm(), "sender", SenderIdRequestSchema(), ("sender_id", "category"),
                 lambda data: sender_ids.request_sender_id(data["sender_id"],
                                                           data["category"].value),
                 _("Sender name requested: it is pending until it has been registered."))


@bp.route("/settings/sms-account", methods=["POST"])
def sms_account_save():
    return _save(SmsAccountForm(), "sms", SmsProviderSchema(), ("username", "api_key"),
                 lambda data: sms_accounts.set_own_account(data["username"], data["api_key"]),
                 _("Your texts now go through your own Africa's Talking account."))


@bp.route("/settings/sms-account/remove", methods=["POST"])
def sms_account_remove():
    sms_accounts.remove_own_account()
    flash(_("Your texts go through the platform's account again."), "success")
    return redirect(url_for("web.branding_page"))
