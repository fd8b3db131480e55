"""The account-mapping editor and its dry-run box ("VIP001, KES 5,000 → VIP program, 100 points")."""

from __future__ import annotations

from flask import flash, redirect, request, url_for

from loyalty.errors import DomainError
from loyalty.schemas.payments import ResolveArgsSchema
from loyalty.services import channels as service
from loyalty.services import payments, programs
from loyalty.web.blueprint import bp
from loyalty.web.forms import DryRunForm, MappingForm, options
from loyalty.web.formtools import load, page, show_error, values

BLANK_ROWS = 3  # room to add rules without any script


@bp.route("/channels/<int:channel_id>/mapping", methods=["GET", "POST"])
def channel_mapping(channel_id: int):
    channel = service.get_channel(channel_id)
    dry_run = DryRunForm(request.args)
    if request.method == "GET":
        rows = [{"pattern": k, "program": v} for k, v in (channel.account_mapping or {}).items()]
        form = MappingForm(data={"rows": rows + [{}] * BLANK_ROWS})
    else:
        form = MappingForm()
    choices = options((p.code, f"{p.name} ({p.code})") for p in programs.list_programs())
    for row in form.rows:
        row.form.program.choices = choices
    if form.validate_on_submit():
        mapping = _mapping(form)
        if mapping is not None:
            try:
                service.update_channel(channel_id, {"account_mapping": mapping})
            except DomainError as error:
                show_error(form, error)
            else:
                flash("Account rules saved. The dry run below uses them.", "success")
                return redirect(url_for("web.channel_mapping", channel_id=channel_id,
                                        **request.args))
    return page("web/channel_mapping.html", form, channel=channel, dry_run=dry_run,
                result=_dry_run(channel_id, dry_run))


def _mapping(form: MappingForm) -> dict[str, str] | None:
    """The rows as the API's mapping object; None when a reference appears twice."""
    mapping: dict[str, str] = {}
    for row in form.rows:
        pattern = (row.form.pattern.data or "").strip()
        if not pattern:
            continue
        if pattern in mapping:
            row.form.pattern.errors = list(row.form.pattern.errors) + ["Listed twice."]
            form.form_errors.append(f"'{pattern}' is listed twice: keep one rule for it.")
            return None
        mapping[pattern] = row.form.program.data
    return mapping


def _dry_run(channel_id: int, form: DryRunForm):
    if "account" not in request.args and "amount" not in request.args:
        return None
    args = load(form, ResolveArgsSchema(), values(form, ("account", "amount")))
    if args is None:
        return None
    return payments.resolve_account(channel_id, args["account"], args["amount"])
