"""Rule tests (A/B experiments): the list, a new test, and one test with its results."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import flash, redirect, url_for
from flask_babel import gettext as _

from loyalty.errors import DomainError
from loyalty.schemas.experiments import ExperimentCreateSchema
from loyalty.services import channels, programs
from loyalty.services import experiments as service
from loyalty.services.experiments import results as experiment_results
from loyalty.web.blueprint import bp
from loyalty.web.experiment_chart import interval_chart
from loyalty.web.experiment_forms import ExperimentForm
from loyalty.web.forms import ActionForm, options
from loyalty.web.formtools import checked, page, show_error, values
from loyalty.web.i18n import say

RULE_FIELDS = ("multiplier", "points_per_unit", "unit_amount", "min_amount", "stamps_required")


@bp.get("/experiments")
def experiments():
    return page("web/experiments.html", ActionForm(), experiments=service.list_experiments())


@bp.route("/experiments/new", methods=["GET", "POST"])
def new_experiment():
    form = ExperimentForm()
    form.program.choices = options((p.code, p.name) for p in programs.list_programs())
    form.channel.choices = options([("", _("All channels"))]
                                   + [(c.id, c.name) for c in channels.list_channels()])
    refused_plan = None
    data = checked(form, ExperimentCreateSchema(), lambda: _body(form))
    if data is not None:
        try:
            experiment = service.create_experiment(data)
        except DomainError as error:
            show_error(form, error)
            refused_plan = (error.extra or {}).get("plan")
        else:
            flash(_("Test '%(name)s' planned. Start it when you are ready.",
                    name=experiment.name), "success")
            return redirect(url_for("web.experiment", experiment_id=experiment.id))
    return page("web/experiment_form.html", form, plan=refused_plan)


def _body(form: ExperimentForm) -> dict:
    """The API's body from the form; numbers the schema cannot read are sent as typed,
    so its message names the field."""
    rule = values(form, RULE_FIELDS)
    share_b = _number(form.share_b.data)
    effect = _number(form.effect.data)
    body = {"name": (form.name.data or "").strip(), "program": form.program.data or "",
            "variants": [{"key": "A", "rule": {}}, {"key": "B", "rule": rule}],
            "split": [100 - share_b, share_b] if isinstance(share_b, int) else [50, share_b],
            "metric": {"kind": "repeat_within_days", "days": _number(form.days.data)},
            "minimum_detectable_effect": (float(effect) / 100
                                          if isinstance(effect, (int, Decimal)) else effect),
            "method": form.method.data}
    if form.channel.data:
        body["channel_ids"] = [_number(form.channel.data)]
    return body


def _number(text):
    text = (text or "").strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    return int(value) if value == value.to_integral_value() and "." not in text else value


@bp.get("/experiments/<int:experiment_id>")
def experiment(experiment_id: int):
    found = service.get_experiment(experiment_id)
    outcome = experiment_results.experiment_results(experiment_id)
    return page("web/experiment.html", ActionForm(), experiment=found, results=outcome,
                chart=interval_chart(outcome["variants"]))


@bp.post("/experiments/<int:experiment_id>/<any(start, stop):action>")
def experiment_action(experiment_id: int, action: str):
    if ActionForm().validate_on_submit():
        try:
            if action == "start":
                service.start_experiment(experiment_id)
                flash(_("Test started: new customers now get A or B."), "success")
            else:
                service.stop_experiment(experiment_id)
                flash(_("Test stopped: everyone earns by the program's rule again."), "success")
        except DomainError as error:
            flash(say(error.message), "error")
    return redirect(url_for("web.experiment", experiment_id=experiment_id))


@bp.post("/experiments/<int:experiment_id>/promote/<variant>")
def promote_experiment(experiment_id: int, variant: str):
    if ActionForm().validate_on_submit():
        try:
            service.promote_variant(experiment_id, variant)
            flash(_("Version %(variant)s's rule is now the program's rule.", variant=variant),
                  "success")
        except DomainError as error:
            flash(say(error.message), "error")
    return redirect(url_for("web.experiment", experiment_id=experiment_id))
