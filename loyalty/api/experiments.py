"""Experiments on a program's earning rule: plan, start, stop, promote, results."""

from flask_smorest import Blueprint

from loyalty.api.openapi import conflict
from loyalty.schemas.base import PageArgsSchema
from loyalty.schemas.experiments import (
    ExperimentCreateSchema,
    ExperimentPageSchema,
    ExperimentSchema,
    PromoteSchema,
    ResultsArgsSchema,
    ResultsSchema,
)
from loyalty.services import experiments as service
from loyalty.services.experiments import results

blp = Blueprint("experiments", __name__, url_prefix="/api/v1/experiments",
                description="A/B tests of loyalty rules, with honest statistics")

EXAMPLE = {"name": "1.5x points", "program": "loyalty",
           "variants": [{"key": "A", "rule": {}}, {"key": "B", "rule": {"multiplier": "1.5"}}],
           "split": [50, 50], "metric": {"kind": "repeat_within_days", "days": 30},
           "minimum_detectable_effect": 0.05, "method": "fixed"}


@blp.route("", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ExperimentPageSchema)
def list_experiments(args):
    """List the merchant's experiments.

    Newest first, with their plan and status (draft, running, stopped, promoted)."""
    return service.experiment_page(**args)


@blp.route("", methods=["POST"])
@blp.arguments(ExperimentCreateSchema, example=EXAMPLE)
@blp.response(201, ExperimentSchema)
def create(data):
    """Plan an experiment.

    The plan reads the last 90 days of the program's payments: the repeat rate within the
    metric's days (the baseline) and new payers a week; the sample size per variant (two
    proportions, α 0.05 two-sided, power 0.8) gives the weeks of enrolment. Beyond 12 weeks
    the answer is 422 `plan_not_feasible`, whose error body carries `plan` (baseline_rate,
    weekly_new_payers, sample_size_per_arm, estimated_weeks, feasible_effect). Variant rules
    may override points_per_unit, unit_amount, multiplier, min_amount, stamps_required;
    `{}` is the program's own rule. The first variant is the control."""
    return service.create_experiment(data)


@blp.route("/<int:experiment_id>", methods=["GET"])
@blp.response(200, ExperimentSchema)
def get(experiment_id):
    """Show one experiment.

    Its variants, split, metric, method, plan and status."""
    return service.get_experiment(experiment_id)


@blp.route("/<int:experiment_id>/start", methods=["POST"])
@blp.response(200, ExperimentSchema)
@conflict("`not_draft` (started before) or `experiment_running` (the program has a running "
          "experiment already: one at a time).")
def start(experiment_id):
    """Start an experiment.

    From now on each new payer of the program is assigned a variant at their first eligible
    payment, and credited by its rule; receipts stay the program's own."""
    return service.start_experiment(experiment_id)


@blp.route("/<int:experiment_id>/stop", methods=["POST"])
@blp.response(200, ExperimentSchema)
@conflict("`not_running`: only a running experiment can stop.")
def stop(experiment_id):
    """Stop an experiment.

    Everyone is credited by the program's rule again; the results stay readable."""
    return service.stop_experiment(experiment_id)


@blp.route("/<int:experiment_id>/promote", methods=["POST"])
@blp.arguments(PromoteSchema, example={"variant": "B"})
@blp.response(200, ExperimentSchema)
@conflict("`not_promotable`: not started yet, or promoted already.")
def promote(data, experiment_id):
    """Promote a variant.

    Writes the variant's rule into the program (stopping the experiment if it runs)."""
    return service.promote_variant(experiment_id, data["variant"])


@blp.route("/<int:experiment_id>/results", methods=["GET"])
@blp.arguments(ResultsArgsSchema, location="query")
@blp.response(200, ResultsSchema)
def get_results(args, experiment_id):
    """Read an experiment's results.

    Per variant: payers enrolled with complete follow-up (a payer counts once the metric's
    days have passed since their first eligible payment), repeaters, the rate with its 95%
    Wilson interval; the difference from the first variant with Newcombe's interval; the
    pooled two-proportion z and two-sided p; the sample-ratio check (χ² p below 0.001
    freezes the verdict); cost in KES per customer, opt-out rate, masked share.
    `sequential`: four O'Brien–Fleming looks (|z| ≥ 4.048, 2.862, 2.337, 2.024) and a
    decision; `fixed`: the effect stays hidden until `analysis_at`."""
    point_value = args.get("point_value")
    return results.experiment_results(experiment_id, **(
        {"point_value": point_value} if point_value is not None else {}))
