"""Loyalty programs: list, create, edit, the live SMS receipt preview and the back-test of
the rule being typed ("What would this change have cost last month?")."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from loyalty.errors import DomainError
from loyalty.schemas.backtest import RuleSchema
from loyalty.schemas.programs import ProgramCreateSchema, ProgramUpdateSchema
from loyalty.services import backtest as backtests
from loyalty.services import programs as service
from loyalty.web import reads
from loyalty.web.backtest_words import backtest_words
from loyalty.web.blueprint import bp, earning_rule
from loyalty.web.forms import TEXT_LANGUAGES, ActionForm, ProgramForm
from loyalty.web.formtools import checked, page, show_error, values

# The languages' own names label the preview's texts, whatever the page's language.
LANGUAGE_NAMES = dict(TEXT_LANGUAGES)
RULE_FIELDS = ("name", "points_per_unit", "unit_amount", "multiplier", "min_amount")
OPTIONAL_FIELDS = ("stamps_required", "stamp_reward", "points_expiry_days", "sms_template")


@bp.get("/programs")
def programs():
    return render_template("web/programs.html", programs=service.list_programs(),
                           action=ActionForm())


@bp.route("/programs/new", methods=["GET", "POST"])
def new_program():
    form = ProgramForm()
    data = checked(form, ProgramCreateSchema(), lambda: {
        **values(form, ("code",) + RULE_FIELDS + OPTIONAL_FIELDS),
        "sms_on_reversal": form.sms_on_reversal.data})
    if data is not None:
        try:
            program = service.create_program(data)
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Program '%(name)s' created. Map account references to it on a channel's "
                    "account rules page.", name=program.name), "success")
            return redirect(url_for("web.programs"))
    return page("web/program_form.html", form, program=None, **_preview(form, None))


@bp.route("/programs/<code>/edit", methods=["GET", "POST"])
def edit_program(code: str):
    program = service.get_program(code)
    form = ProgramForm(obj=program)
    # "Check" (the back-test without JavaScript) submits the form as typed, saving nothing.
    checking = request.method == "POST" and "check" in request.form
    data = None if checking else checked(form, ProgramUpdateSchema(partial=True),
                                         lambda: _changes(form, program))
    if data is not None:
        try:
            service.update_program(code, data)
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Program '%(name)s' saved.", name=program.name), "success")
            return redirect(url_for("web.programs"))
    typed = {name: form[name].data for name in backtests.RULE_FIELDS}
    return page("web/program_form.html", form, program=program, **_preview(form, program),
                backtest=_backtest_lines(program, typed))


@bp.get("/programs/<code>/backtest.json")
def program_backtest(code: str):
    """The back-test of the rule as typed so far, for the edit page's script."""
    program = service.get_program(code)
    return jsonify({"lines": _backtest_lines(program, request.args)})


def _backtest_lines(program, raw) -> list[str]:
    """The last 30 days re-earned under the typed rule, in the merchant's words. Values
    that are not (yet) valid keep the program's own: the form reports them on save."""
    rule = {}
    for name in backtests.RULE_FIELDS:
        value = raw.get(name)
        value = "" if value is None else str(value).strip()
        if name == "stamps_required" and value in ("", "0"):
            rule[name] = None
            continue
        try:
            rule.update(RuleSchema().load({name: value}))
        except ValidationError:
            pass
    return backtest_words(backtests.last_days(program, rule))


def _changes(form: ProgramForm, program) -> dict:
    # Blank optional inputs clear the value (e.g. back to the default SMS template).
    return {**values(form, RULE_FIELDS), **values(form, OPTIONAL_FIELDS, blank="none"),
            "sms_on_reversal": form.sms_on_reversal.data}


@bp.post("/programs/<code>/default")
def make_default_program(code: str):
    """The one place the default program is chosen (the Programs page's button)."""
    if ActionForm().validate_on_submit():
        program = service.update_program(code, {"is_default": True})
        flash(_("'%(name)s' is now the default program: payments that match no account rule "
                "earn in it.", name=program.name), "success")
    return redirect(url_for("web.programs"))


@bp.get("/programs/preview.json")
def program_preview():
    """The receipt for the example payment, as the new-program form is being typed."""
    return _preview_json(None)


@bp.get("/programs/<code>/preview.json")
def program_edit_preview(code: str):
    """The same for a program being edited: with its texts in other languages."""
    return _preview_json(service.get_program(code))


def _preview_json(program):
    """The receipt in each language shown (`texts`, the merchant's default first); the
    first one's fields at the top level too, as the page's script first read them."""
    rules = _rules(request.args)
    previews = reads.sms_previews(translations=_translations(program), **rules)
    texts = [{"language": language, "label": LANGUAGE_NAMES[language], "text": p.text,
              "segments": p.segments, "characters": p.characters, "encoding": p.encoding,
              "cost": p.cost} for language, p in previews]
    first = previews[0][1]
    return jsonify({**texts[0], "texts": texts, "rule": _in_words(rules),
                    "points": first.points, "problems": _each_once(previews, "problems"),
                    "warnings": _each_once(previews, "warnings")})


def _preview(form: ProgramForm, program) -> dict:
    rules = _rules({name: form[name].data for name in (
        "name", "sms_template", "points_per_unit", "unit_amount", "multiplier", "min_amount",
        "stamps_required", "stamp_reward")})
    previews = reads.sms_previews(translations=_translations(program), **rules)
    return {"preview": previews[0][1], "rule": _in_words(rules),
            "previews": [(language, LANGUAGE_NAMES[language], p) for language, p in previews],
            "problems": _each_once(previews, "problems"),
            "warnings": _each_once(previews, "warnings")}


def _translations(program) -> dict | None:
    return program.sms_translations if program is not None else None


def _each_once(previews, name: str) -> list[str]:
    """A problem or warning of any text shown, once (two texts often share one)."""
    return list(dict.fromkeys(line for _, p in previews for line in getattr(p, name)))


def _in_words(rules: dict) -> str:
    return earning_rule(rules["points_per_unit"], rules["unit_amount"], rules["multiplier"],
                        rules["min_amount"])


def _rules(raw) -> dict:
    """Best-effort numbers for a preview of a half-typed form: bad input falls back to the
    defaults here, and the form itself reports it on save."""
    def number(name: str, default: str, kind=Decimal):
        try:
            value = kind(str(raw.get(name) or default).strip())
            finite = kind is int or value.is_finite()
            return value if finite and value >= 0 else kind(default)
        except (InvalidOperation, ValueError):
            return kind(default)

    stamps = number("stamps_required", "0", int)
    return {"template": raw.get("sms_template") or None, "name": (raw.get("name") or "").strip(),
            "points_per_unit": number("points_per_unit", "1", int),
            "unit_amount": number("unit_amount", "100") or Decimal(100),
            "multiplier": number("multiplier", "1"), "min_amount": number("min_amount", "0"),
            "stamps_required": stamps or None,
            "stamp_reward": (raw.get("stamp_reward") or "").strip() or None}
