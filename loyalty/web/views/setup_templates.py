"""Setup templates in the web UI: the templates as cards, then one template's questions,
what applying would change in the merchant's words (with what its rules would have earned
over the last 90 days, when there were payments), and the apply button."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

from flask import Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from wtforms import BooleanField, HiddenField, SelectField, StringField

from loyalty.errors import DomainError
from loyalty.services import channels as channel_service
from loyalty.services import setup_templates as service
from loyalty.services.merchants import get_current_merchant
from loyalty.sms.templates import render
from loyalty.web.backtest_words import plan_backtest_words
from loyalty.web.blueprint import bp, earning_rule
from loyalty.web.forms import WebForm, options
from loyalty.web.formtools import show_error
from loyalty.web.i18n import N_, say
from loyalty.web.setup_template_words import in_page_language

CHANNEL_WORDS = {"paybill": "PayBill", "till": "Till", "buygoods": "Buy Goods"}
# A program's fields as the program form names them.
FIELD_WORDS = {"name": _l("name"), "points_per_unit": _l("points"), "unit_amount": _l("per KES"),
               "multiplier": _l("multiplier"), "min_amount": _l("smallest payment"),
               "stamps_required": _l("stamps for a reward"), "stamp_reward": _l("reward"),
               "points_expiry_days": _l("days before points expire"),
               "is_default": _l("default")}
ACTION_WORDS = {"create": _l("New"), "update": _l("Changes"), "unchanged": _l("Already so"),
                "conflict": _l("Replaces your own")}


@bp.get("/setup/templates")
def setup_templates():
    templates = [in_page_language(t) for t in service.list_templates(limit=200)["items"]]
    # "PayBill or Till": Safaricom's names, joined in the page's language.
    either = " " + _("or") + " "
    kinds = {t["key"]: either.join(CHANNEL_WORDS[c] for c in t["channel_types"])
             for t in templates}
    return render_template("web/setup_templates.html", templates=templates, kinds=kinds)


@bp.get("/setup/my-setup.json")
def export_setup():
    """The merchant's own setup as a template file (GET /api/v1/merchants/me/setup)."""
    body = json.dumps(service.export_setup(), ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": 'attachment; filename="my-setup.json"'})


@bp.route("/setup/templates/<template_key>", methods=["GET", "POST"])
def setup_template(template_key: str):
    manifest = in_page_language(service.template_detail(template_key)["latest"])
    fitting = [c for c in channel_service.list_channels()
               if c.channel_type.value in manifest["channel_types"]]
    form = _form_class(manifest, fitting)()
    if not form.idempotency_key.data:
        form.idempotency_key.data = uuid.uuid4().hex
    params = {p["name"]: form[f"p_{p['name']}"].data for p in manifest["parameters"]}
    channel_id = int(form.channel_id.data) if form.channel_id.data else None
    plan = None
    if form.validate_on_submit() and form.apply.data:
        try:
            result = service.apply_template(
                template_key, manifest["version"], params, channel_id=channel_id,
                idempotency_key=form.idempotency_key.data, adopt=form.adopt.data)
        except DomainError as error:
            show_error(form, _on_form(error))
        else:
            changed = sum(r["action"] != "unchanged" for r in result["resources"])
            flash(ngettext("'%(title)s' is set up: %(count)s change made.",
                           "'%(title)s' is set up: %(count)s changes made.", changed,
                           title=manifest["title"], count=changed), "success")
            return redirect(url_for("web.programs"))
    try:
        plan = service.plan_template(template_key, manifest["version"], params, channel_id)
    except DomainError as error:
        show_error(form, _on_form(error))
    status = 422 if form.is_submitted() and (form.errors or form.form_errors) else 200
    return render_template(
        "web/setup_template.html", manifest=manifest, form=form,
        steps=_steps(plan["resources"]) if plan else [],
        notes=[say(note) for note in plan["notes"]] if plan else [],
        history=[plan_backtest_words(entry) for entry in plan["backtest"]["programs"]]
        if plan and plan["backtest"] else [],
        conflicts=plan is not None and any(r["action"] == "conflict" for r in plan["resources"]),
        channel_words=CHANNEL_WORDS), status


def _form_class(manifest: dict[str, Any], channels: list) -> type[WebForm]:
    fields: dict[str, Any] = {}
    for spec in manifest["parameters"]:
        if spec["type"] == "choice":
            fields[f"p_{spec['name']}"] = SelectField(
                spec["label"], choices=options((c, c) for c in spec["choices"]), default=spec["default"])
        else:
            fields[f"p_{spec['name']}"] = StringField(
                spec["label"], default=str(spec["default"]), description=_bounds(spec))
    fields["channel_id"] = SelectField(
        _("Channel whose account rules it sets"),
        choices=options([(str(c.id), f"{c.name} ({CHANNEL_WORDS[c.channel_type.value]} "
                                     f"{c.shortcode})") for c in channels]
                        + [("", _("None yet (programs and texts only)"))]),
        default=str(channels[0].id) if channels else "")
    fields["adopt"] = BooleanField(_("Replace what I set up myself"))
    fields["idempotency_key"] = HiddenField()
    fields["apply"] = BooleanField()  # set by the Apply button (name="apply")
    return type("SetupTemplateForm", (WebForm,), fields)


def _bounds(spec: dict[str, Any]) -> str:
    low, high = spec.get("min"), spec.get("max")
    if spec["type"] == "string":
        return _("Up to %(count)s characters.", count=spec.get("max_length", 100))
    if low is not None and high is not None:
        return _("From %(low)s to %(high)s.", low=low, high=high)
    return ""


def _on_form(error: DomainError) -> DomainError:
    """The service names a parameter `params.<name>`; the form's input is `p_<name>`."""
    if error.fields:
        error.fields = {(f"p_{k[7:]}" if k.startswith("params.") else k): v
                        for k, v in error.fields.items()}
    return error


def _steps(resources: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The plan as a shop owner reads it; texts as John would receive them."""
    programs = {r["key"]: _wanted(r) for r in resources if r["kind"] == "program"}
    merchant = get_current_merchant().business_name
    return [_in_words(r, programs, merchant) for r in resources]


def _in_words(resource: dict[str, Any], programs: dict[str, dict[str, Any]],
              merchant: str) -> dict[str, str]:
    """One line of the plan."""
    kind, key, changes = resource["kind"], resource["key"], resource["changes"]
    to = _wanted(resource)
    if kind == "program":
        if resource["action"] == "create" or (not changes and "name" in to):
            text = _("Program “%(name)s”: %(rule)s", name=to["name"], rule=_rule_words(to))
        elif changes:
            text = _("Program “%(name)s”: %(changes)s", name=key, changes="; ".join(
                f"{FIELD_WORDS.get(name, name)} {_shown(c['from'])} → {_shown(c['to'])}"
                for name, c in changes.items()))
        else:
            text = _("Program “%(name)s”", name=key)
        if to.get("is_default"):
            text += " " + _("(payments no rule matches earn here)")
    elif kind == "mapping":
        program = to.get("program") or changes.get("program", {}).get("to") or ""
        if key == "default":
            text = (_("Any other payment earns in %(program)s", program=program) if program
                    else _("Any other payment earns in the same program"))
        elif key.endswith("*"):
            text = _("Account numbers starting with %(prefix)s earn in %(program)s",
                     prefix=key[:-1], program=program)
        else:
            text = _("Account number %(account)s earns in %(program)s", account=key,
                     program=program)
    else:
        code, event, language = key.split("/")
        text = _(SMS_WORDS[(event, language)], program=code)
        if "text" in to:
            program = programs.get(code, {})
            example = render(to["text"], {
                "first_name": "John", "points": 100, "balance": 2847, "stamps_left": 3,
                "program_name": program.get("name") or code,
                "reward": program.get("stamp_reward") or _("the reward"), "merchant": merchant})
            text += f": “{example}”"
    return {"action": resource["action"], "label": str(ACTION_WORDS[resource["action"]]),
            "text": text}


def _wanted(resource: dict[str, Any]) -> dict[str, Any]:
    """What the resource is once applied: the changes' `to`, or an unchanged one's value."""
    return {**(resource.get("value") or {}),
            **{name: change["to"] for name, change in resource["changes"].items()}}


# A text of the plan, by its event and language: whole sentences, so Swahili can order them.
SMS_WORDS = {
    ("earn", "en"): N_("English receipt for %(program)s"),
    ("earn", "sw"): N_("Swahili receipt for %(program)s"),
    ("reward", "en"): N_("English text when a card is full for %(program)s"),
    ("reward", "sw"): N_("Swahili text when a card is full for %(program)s"),
}


def _rule_words(rule: dict[str, Any]) -> str:
    if rule.get("stamps_required"):
        return _("a card of %(count)s stamps for %(reward)s", count=rule["stamps_required"],
                 reward=rule["stamp_reward"])
    return earning_rule(rule.get("points_per_unit"), Decimal(rule.get("unit_amount") or 100),
                        Decimal(rule.get("multiplier") or 1),
                        Decimal(rule.get("min_amount") or 0))


def _shown(value: Any) -> str:
    return _("none") if value is None else str(value)
