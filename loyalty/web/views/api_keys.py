"""API keys: create (the key is shown once, on the page that answers the form), revoke."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _

from loyalty.schemas.merchants import ApiKeyCreateSchema
from loyalty.services import merchants
from loyalty.web.blueprint import bp
from loyalty.web.forms import ActionForm, ApiKeyForm
from loyalty.web.formtools import load, page, values


@bp.route("/settings/api-keys", methods=["GET", "POST"])
def api_keys():
    form = ApiKeyForm()
    issued = None
    if form.validate_on_submit():
        data = load(form, ApiKeyCreateSchema(), values(form, ("name",)))
        if data is not None:
            # Rendered straight into this response, never put in the session or a flash
            # message: after this page the key exists only with the merchant.
            issued = merchants.create_api_key(data["name"])
            form = ApiKeyForm(formdata=None)
    return page("web/api_keys.html", form, issued=issued,
                keys=merchants.list_api_keys(), action=ActionForm())


@bp.post("/settings/api-keys/<int:key_id>/revoke")
def revoke_api_key(key_id: int):
    if ActionForm().validate_on_submit():
        key = merchants.revoke_api_key(key_id)
        flash(_("Key '%(name)s' (%(prefix)s…) is revoked; requests with it are refused.",
                name=key.name, prefix=key.prefix), "info")
    return redirect(url_for("web.api_keys"))
