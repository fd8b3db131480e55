"""Channels: the add-channel wizard (the seed's five steps), details, edits, live status."""

from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.widgets import PasswordInput

from loyalty import ratelimits
from loyalty.errors import DomainError
from loyalty.schemas.channels import ChannelCreateSchema, ChannelSchema, ChannelUpdateSchema
from loyalty.services import (
    channel_activation,
    channel_events,
    channel_setup,
    reconciliation,
    sandbox_sharing,
)
from loyalty.services import channels as service
from loyalty.services.setup_templates import new_channels
from loyalty.web.blueprint import bp
from loyalty.web.channel_forms import (
    SANDBOX_PASSKEY,
    SANDBOX_SHORTCODE,
    ChannelEditForm,
    ChannelForm,
    PullRegisterForm,
    ReconcileForm,
    UrlsForm,
)
from loyalty.web.forms import ActionForm
from loyalty.web.formtools import checked, load, page, show_error, values
from loyalty.web.i18n import say
from loyalty.web.setup_template_words import rules_notice

DETAIL_FIELDS = ("name", "shortcode", "channel_type", "environment", "store_number")
SECRET_FIELDS = ("consumer_key", "consumer_secret", "passkey")
# Edited only (the wizard leaves them out): blank keeps the stored ones, like the secrets.
INITIATOR_FIELDS = ("initiator_name", "initiator_password")
FLAG_FIELDS = ("auto_activate", "notify_by_sms")  # checkboxes: unticked is False
RECENT_RUNS = 10  # reconciliation runs shown on a channel's page
RECENT_EVENTS = 20  # the history shown on a channel's page (the API pages through all)


@bp.get("/channels")
def channels():
    return render_template("web/channels.html", channels=service.list_channels())


@bp.route("/channels/new", methods=["GET", "POST"])
def new_channel():
    form = ChannelForm()
    if not form.is_submitted() and request.args.get("sandbox"):
        _fill_sandbox_values(form)
    data = checked(form, ChannelCreateSchema(),
                   lambda: values(form, DETAIL_FIELDS + SECRET_FIELDS + FLAG_FIELDS))
    if data is not None:
        try:
            channel = new_channels.create_channel(data)
        except DomainError as error:
            show_error(form, error)
        else:
            _say_where_the_rules_came_from(channel)
            return redirect(url_for("web.channel_setup", channel_id=channel.id))
    return page("web/channel_new.html", form)


def _say_where_the_rules_came_from(channel) -> None:
    """A template applied before the channel existed set its account rules just now: say
    which, since the merchant did not ask for them on this form."""
    notice = rules_notice(channel)
    if notice:
        flash(notice, "success")


def _fill_sandbox_values(form: ChannelForm) -> None:
    """Safaricom's public sandbox PayBill and its passkey; the key and secret are the
    merchant's own sandbox app's (only the local emulator accepts made-up ones)."""
    form.name.data = "Sandbox PayBill"
    form.channel_type.data, form.environment.data = "paybill", "sandbox"
    form.shortcode.data, form.passkey.data = SANDBOX_SHORTCODE, SANDBOX_PASSKEY
    form.passkey.widget = PasswordInput(hide_value=False)  # public: nothing to hide
    if current_app.config["DARAJA_EMULATOR"]:
        form.consumer_key.data = "demo-consumer-key"
        form.consumer_secret.data = "demo-consumer-secret"
        form.consumer_secret.widget = PasswordInput(hide_value=False)


@bp.get("/channels/<int:channel_id>")
def channel(channel_id: int):
    return render_channel(channel_id)


def render_channel(channel_id: int, *, pull_form: PullRegisterForm | None = None,
                   run_form: ReconcileForm | None = None, status: int = 200):
    """The channel's page, with its missed-payment checks (views/reconciliation.py); a
    refused form of that section comes back with its problems shown."""
    found = service.get_channel(channel_id)
    runs = reconciliation.list_runs(channel_id=channel_id, limit=RECENT_RUNS)
    if pull_form is None:
        pull_form = PullRegisterForm(prefix="pull", formdata=None,
                                     nominated_number=found.pull_nominated_number or "")
    return render_template(
        "web/channel.html", channel=found, info=ChannelSchema().dump(found),
        events=channel_events.recent_events(channel_id, limit=RECENT_EVENTS),
        notices=[n for n in channel_events.notices() if n["channel_id"] == channel_id],
        action=ActionForm(), runs=runs["items"], run_totals=runs["totals"], pull_form=pull_form,
        run_form=run_form or ReconcileForm(prefix="run", formdata=None)), status


@bp.route("/channels/<int:channel_id>/edit", methods=["GET", "POST"])
def edit_channel(channel_id: int):
    current = service.get_channel(channel_id)
    form = ChannelEditForm(obj=current)
    if not form.is_submitted():
        # Write-only: start empty. The consumer key is not a secret: shown, to compare.
        for name in ("consumer_secret", "passkey", "initiator_password"):
            form[name].data = ""
    if form.validate_on_submit():
        # Blank secret inputs mean "keep the stored one"; a blank store number clears it.
        data = {**values(form, SECRET_FIELDS + INITIATOR_FIELDS),
                **values(form, DETAIL_FIELDS, blank="none"), **values(form, FLAG_FIELDS),
                "validation_policy": form.validation_policy.data}
        if data.get("consumer_key") == current.consumer_key:
            del data["consumer_key"]  # unchanged: no need to verify again
        if form.is_primary.data and not current.is_primary:
            data["is_primary"] = True
        data = load(form, ChannelUpdateSchema(), data)
        if data is not None:
            try:
                service.update_channel(channel_id, data)
            except DomainError as error:
                show_error(form, error)
            else:
                flash(_("Channel saved."), "success")
                # Fixing the credentials of a channel not live yet: back to its setup steps.
                done = service.get_channel(channel_id).is_active
                return redirect(url_for("web.channel" if done else "web.channel_setup",
                                        channel_id=channel_id))
    return page("web/channel_edit.html", form, channel=current)


@bp.get("/channels/<int:channel_id>/setup", endpoint="channel_setup")
def channel_setup_page(channel_id: int):
    return _setup(channel_id, UrlsForm())


def _setup(channel_id: int, urls_form: UrlsForm, status: int = 200, relay_url: str | None = None):
    channel = service.get_channel(channel_id)
    return render_template("web/channel_setup.html", channel=channel,
                           info=ChannelSchema().dump(channel), urls_form=urls_form,
                           shared=sandbox_sharing.registration_warnings(channel_id),
                           action=ActionForm(), relay_url=relay_url,
                           auto_activated=channel.is_active
                           and channel_events.activated_automatically(channel_id)), status


@bp.post("/channels/<int:channel_id>/verify")
@ratelimits.verify
def verify_channel(channel_id: int):
    if ActionForm().validate_on_submit():
        _attempt(channel_setup.request_verification, channel_id)
    return redirect(url_for("web.channel_setup", channel_id=channel_id))


@bp.post("/channels/<int:channel_id>/register-urls")
@ratelimits.register_urls
def register_urls(channel_id: int):
    form = UrlsForm()
    if form.validate_on_submit():
        try:
            channel_setup.request_url_registration(
                channel_id, **values(form, ("validation_url", "confirmation_url")))
        except DomainError as error:  # a URL Safaricom would refuse: show it on its field
            show_error(form, error)
            # The merchant's own confirmation URL: offer to relay payments there instead.
            relay = form.confirmation_url.data.strip() \
                if error.code == channel_setup.RELAY_INSTEAD else None
            return _setup(channel_id, form, 422, relay_url=relay)
        for warning in sandbox_sharing.registration_warnings(channel_id):
            flash(say(warning["message"]), "warning")
    return redirect(url_for("web.channel_setup", channel_id=channel_id))


@bp.post("/channels/<int:channel_id>/activate")
def activate_channel(channel_id: int):
    if ActionForm().validate_on_submit() and _attempt(channel_activation.activate_channel, channel_id):
        flash(_("The channel is active: payments now earn points."), "success")
    return redirect(url_for("web.channel_setup", channel_id=channel_id))


@bp.post("/channels/<int:channel_id>/deactivate")
def deactivate_channel(channel_id: int):
    if ActionForm().validate_on_submit() and _attempt(channel_activation.deactivate_channel,
                                                      channel_id):
        flash(_("The channel is paused: payments are stored but earn no points."), "info")
    return redirect(url_for("web.channel", channel_id=channel_id))


@bp.get("/channels/<int:channel_id>/status.json")
def channel_status(channel_id: int):
    """What the wizard polls while the worker talks to Safaricom."""
    info = ChannelSchema().dump(service.get_channel(channel_id))
    return jsonify({name: info[name] for name in
                    ("id", "status", "is_active", "verification", "urls", "health")})


def _attempt(action, channel_id: int) -> bool:
    """Run a step; a refusal (NotFound aside) becomes a message on the page it returns to."""
    try:
        action(channel_id)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(say(error.message), "error")
        return False
    return True
