"""The account-mapping editor and its dry-run box ("VIP001, KES 5,000 → VIP program, 100 points")."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from loyalty.errors import DomainError
from loyalty.schemas.payments import ResolveArgsSchema
from loyalty.schemas.programs import ProgramCreateSchema
from loyalty.services import channels as service
from loyalty.services import payments, programs
from loyalty.web.blueprint import bp
from loyalty.web.forms import DryRunForm, MappingForm, QuickProgramForm, options
from loyalty.web.formtools import checked, load, page, show_error, values

# One empty row, shown apart as "add a rule" and choosing no program until the merchant
# does: blank rows that showed a program read as rules that were not there.
BLANK_ROWS = 1
CHOOSE = ("", _l("Choose a program"))


@bp.route("/channels/<int:channel_id>/mapping", methods=["GET", "POST"])
def channel_mapping(channel_id: int):
    channel = service.get_channel(channel_id)
    dry_run = DryRunForm(request.args)
    if request.method == "GET":
        rows = [{"pattern": k, "program": v} for k, v in (channel.account_mapping or {}).items()]
        form = MappingForm(data={"rows": rows + [{}] * BLANK_ROWS})
    else:
        form = MappingForm()
    _offer_programs(form)
    if form.validate_on_submit():
        mapping = _mapping(form)
        if mapping is not None:
            try:
                service.update_channel(channel_id, {"account_mapping": mapping})
            except DomainError as error:
                show_error(form, error)
            else:
                flash(_("Account rules saved. The dry run below uses them."), "success")
                return redirect(url_for("web.channel_mapping", channel_id=channel_id,
                                        **request.args))
    return _page(channel, form, dry_run, QuickProgramForm(formdata=None))


@bp.post("/channels/<int:channel_id>/mapping/programs", endpoint="mapping_new_program")
def new_program_for_rules(channel_id: int):
    """Create a program without leaving the account rules (the set-up order a shop follows:
    rules need a program to point at)."""
    channel = service.get_channel(channel_id)
    quick = QuickProgramForm()
    data = checked(quick, ProgramCreateSchema(), lambda: values(
        quick, ("code", "name", "points_per_unit", "unit_amount")))
    if data is not None:
        try:
            program = programs.create_program(data)
        except DomainError as error:
            show_error(quick, error)
        else:
            flash(_("Program '%(name)s' created: choose it for a rule below.", name=program.name),
                  "success")
            return redirect(url_for("web.channel_mapping", channel_id=channel_id))
    rows = [{"pattern": k, "program": v} for k, v in (channel.account_mapping or {}).items()]
    form = MappingForm(formdata=None, data={"rows": rows + [{}] * BLANK_ROWS})
    _offer_programs(form)
    return _page(channel, form, DryRunForm(formdata=None), quick, status=422)


def _offer_programs(form: MappingForm) -> None:
    choices = options([CHOOSE] + [(p.code, f"{p.name} ({p.code})")
                                  for p in programs.list_programs()])
    for row in form.rows:
        row.form.program.choices = choices


def _page(channel, form, dry_run, quick, status=None):
    default = programs.default_program()
    return page("web/channel_mapping.html", form, status, channel=channel, dry_run=dry_run,
                result=_dry_run(channel.id, dry_run), quick=quick, default_program=default,
                rule_count=len(channel.account_mapping or {}))


def _mapping(form: MappingForm) -> dict[str, str] | None:
    """The rows as the API's mapping object; None when a reference appears twice."""
    mapping: dict[str, str] = {}
    for row in form.rows:
        pattern = (row.form.pattern.data or "").strip()
        if not pattern:
            continue
        if pattern in mapping:
            row.form.pattern.errors = list(row.form.pattern.errors) + [_("Listed twice.")]
            form.form_errors.append(_("'%(pattern)s' is listed twice: keep one rule for it.",
                                      pattern=pattern))
            return None
        if not row.form.program.data:
            row.form.program.errors = list(row.form.program.errors) + [
                _("Choose a program for this rule.")]
            form.form_errors.append(_("Choose the program that '%(pattern)s' earns in.",
                                      pattern=pattern))
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
