"""Webhooks: the merchant's endpoints (the signing secret is shown once, on the page that
answers the form), each endpoint's delivery log with replay, and the channel setup's offer
to relay payments to the merchant's own system instead of registering its URL."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from loyalty.errors import DomainError
from loyalty.schemas.webhooks import EndpointCreateSchema
from loyalty.services import channel_setup, channels
from loyalty.services.webhooks import endpoints as service
from loyalty.web.blueprint import bp
from loyalty.web.forms import ActionForm, RelayForm, WebhookForm, options
from loyalty.web.formtools import load, page, show_error, values

PAGE_SIZE = 30


def _form() -> WebhookForm:
    form = WebhookForm()
    form.channel_id.choices = options([("", _l("Every channel"))] + [
        (c.id, f"{c.name} ({c.shortcode})") for c in channels.list_channels()])
    return form


def _list(form, issued=None):
    names = {c.id: c.name for c in channels.list_channels()}
    return page("web/webhooks.html", form, issued=issued, channel_names=names,
                endpoints=service.list_endpoints(limit=50)["items"])


@bp.route("/webhooks", methods=["GET", "POST"])
def webhooks():
    form = _form()
    issued = None
    if form.validate_on_submit():
        data = load(form, EndpointCreateSchema(), {
            **values(form, ("url", "description")), "events": form.events.data,
            **({"channel_id": int(form.channel_id.data)} if form.channel_id.data else {})})
        if data is not None:
            try:
                # Rendered straight into this response, never put in the session or a
                # flash message: after this page the secret exists only with the merchant.
                issued = service.create_endpoint(**data)
            except DomainError as error:
                show_error(form, error)
            else:
                form = _form()
                form.process(formdata=None)
    return _list(form, issued)


@bp.get("/webhooks/<int:endpoint_id>")
def webhook(endpoint_id: int, issued=None, status: int = 200):
    endpoint = service.get_endpoint(endpoint_id)
    cursor = request.args.get("cursor", type=int)
    deliveries = service.list_deliveries(
        endpoint_id, cursor=cursor if cursor and 0 < cursor < 2**31 else None, limit=PAGE_SIZE)
    attempts = service.attempt_logs([d.id for d in deliveries["items"]])
    names = {c.id: c.name for c in channels.list_channels()}
    return page("web/webhook.html", ActionForm(formdata=None), status=status, endpoint=endpoint,
                deliveries=deliveries, attempts=attempts, issued=issued, channel_names=names)


def _acted(endpoint_id: int, act, message: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        act()
    except DomainError as error:
        if error.status == 404:
            raise
        flash(error.message, "error")
    else:
        flash(message, "success")
    return redirect(url_for("web.webhook", endpoint_id=endpoint_id))


@bp.post("/webhooks/<int:endpoint_id>/rotate")
def rotate_webhook_secret(endpoint_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    issued = service.rotate_secret(endpoint_id)
    return webhook(endpoint_id, issued=issued)


@bp.post("/webhooks/<int:endpoint_id>/test")
def test_webhook(endpoint_id: int):
    return _acted(endpoint_id, lambda: service.send_test(endpoint_id),
                  "A test event is on its way: it shows below in a moment.")


@bp.post("/webhooks/<int:endpoint_id>/enable")
def enable_webhook(endpoint_id: int):
    return _acted(endpoint_id, lambda: service.update_endpoint(endpoint_id, state="active"),
                  "The endpoint is enabled: what waited is being sent.")


@bp.post("/webhooks/<int:endpoint_id>/disable")
def disable_webhook(endpoint_id: int):
    return _acted(endpoint_id, lambda: service.update_endpoint(endpoint_id, state="disabled"),
                  "The endpoint is paused: events wait until you enable it.")


@bp.post("/webhooks/<int:endpoint_id>/delete")
def delete_webhook(endpoint_id: int):
    if ActionForm().validate_on_submit():
        service.delete_endpoint(endpoint_id)
        flash(_("The endpoint is deleted."), "info")
    return redirect(url_for("web.webhooks"))


@bp.post("/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/replay")
def replay_webhook(endpoint_id: int, delivery_id: int):
    return _acted(endpoint_id, lambda: service.replay_delivery(endpoint_id, delivery_id),
                  "Sent again: the outcome shows below in a moment.")


@bp.post("/channels/<int:channel_id>/relay")
def relay_payments(channel_id: int):
    """Relay this channel's payments to the merchant's own URL (a webhook endpoint for
    payment.received) and register the platform's own URLs with Safaricom."""
    form = RelayForm()
    if not form.validate_on_submit():
        abort(400)
    channels.get_channel(channel_id)  # 404 for anything not the merchant's
    form = _form()
    try:
        issued = service.create_endpoint(url=(request.form.get("url") or "").strip(),
                                         events=["payment.received"], channel_id=channel_id)
    except DomainError as error:
        show_error(form, error)
        return _list(form)
    try:
        channel_setup.request_url_registration(channel_id)
    except DomainError as error:
        flash(f"The relay is set up, but our URLs are not registered yet: {error.message}",
              "error")
    else:
        flash(_("Safaricom is being given our URLs; each payment is relayed to yours, signed."),
              "success")
    form.process(formdata=None)
    return _list(form, issued)
