"""An experiment's results: aggregated per variant in the database, read with loyalty/stats.

The first variant is the control; the difference is the second minus the first (with more
than two variants, each is compared with the control in `comparisons`). A payer counts once
`metric_days` have passed since their first eligible payment (right-censoring): counting
someone who joined yesterday as "did not come back" would bias every rate down and toward
the variant that enrolled last.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from loyalty import stats
from loyalty.db import experiments as sql
from loyalty.db.statements import for_one_large_read
from loyalty.extensions import db
from loyalty.models import ExperimentStatus, Method
from loyalty.models.base import utcnow
from loyalty.services.experiments import get_experiment
from loyalty.tenancy import current_merchant_id

SRM_FREEZE = 0.001
SRM_SENTENCE = ("The split of payers is off from the plan (sample-ratio check p < 0.001): "
                "something other than chance decides who gets which variant, so no verdict "
                "is given. Check channel filters and masked payers before trusting any rate.")


def analysis_at(experiment):
    """When a fixed experiment may be read: enrolment weeks, then the follow-up days."""
    if experiment.started_at is None:
        return None
    weeks = (experiment.plan or {}).get("estimated_weeks") or 0
    return experiment.started_at + timedelta(weeks=weeks, days=experiment.metric_days)


def experiment_results(experiment_id: int, *, point_value: Decimal = Decimal("1")) -> dict:
    experiment = get_experiment(experiment_id)
    now = utcnow()
    params = {"merchant_id": current_merchant_id(), "experiment_id": experiment.id,
              "program_id": experiment.program_id,
              "channel_ids": experiment.channel_ids or None,
              "complete_before": now - timedelta(days=experiment.metric_days),
              "days": experiment.metric_days}
    connection = db.session.connection()
    for_one_large_read(db.session)
    rows = {row.variant: row for row in sql.RESULTS.execute(connection, params)}
    variants = []
    for variant in experiment.variants:
        row = rows.get(variant["key"])
        assigned, enrolled, repeaters = ((row.assigned, row.enrolled, row.repeaters)
                                         if row else (0, 0, 0))
        low, high = stats.wilson_interval(repeaters, enrolled)
        cost = (Decimal(row.points) * point_value / assigned if row and assigned
                else Decimal(0)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        variants.append({
            "key": variant["key"], "rule": variant["rule"], "assigned": assigned,
            "enrolled": enrolled, "repeaters": repeaters,
            "rate": repeaters / enrolled if enrolled else None, "ci_low": low, "ci_high": high,
            "points_cost_kes_per_customer": cost,
            "opt_out_rate": (row.opted_out / assigned) if row and assigned else None})
    srm = stats.sample_ratio_check([v["assigned"] for v in variants], experiment.split)
    masked = _masked(connection, experiment, params, now)
    out: dict[str, Any] = {
        "experiment_id": experiment.id, "status": experiment.status,
        "method": experiment.method, "metric_days": experiment.metric_days,
        "variants": variants,
        "sample_ratio": {"chi2": srm.chi2, "p_value": srm.p_value,
                         "frozen": srm.p_value < SRM_FREEZE},
        "masked_share": masked, "analysis_at": None, "comparisons": [],
        "looks": None, "decision": None, "verdict": None}
    control = variants[0]
    hidden = False
    if experiment.method == Method.FIXED:
        out["analysis_at"] = analysis_at(experiment)
        hidden = out["analysis_at"] is None or now < out["analysis_at"]
    per_arm = (experiment.plan or {}).get("sample_size_per_arm") or 0
    for other in variants[1:]:
        z, p = stats.two_proportion_z(control["repeaters"], control["enrolled"],
                                      other["repeaters"], other["enrolled"])
        low, high = stats.newcombe_difference_interval(
            control["repeaters"], control["enrolled"], other["repeaters"], other["enrolled"])
        comparison = {"variant": other["key"], "difference": None, "ci_low": None,
                      "ci_high": None, "z": None, "p_value": None}
        if not hidden:
            rate = (other["rate"] or 0) - (control["rate"] or 0)
            comparison.update(difference=rate, ci_low=low, ci_high=high, z=z, p_value=p)
        if experiment.method == Method.SEQUENTIAL:
            look = stats.look_reached(min(control["enrolled"], other["enrolled"]), per_arm)
            comparison["look"] = look
            comparison["decision"] = stats.sequential_decision(z, look)
        elif not hidden:
            comparison["decision"] = stats.fixed_decision(p)
        out["comparisons"].append(comparison)
    if out["comparisons"]:
        first = out["comparisons"][0]
        out["decision"] = first.get("decision")
        if experiment.method == Method.SEQUENTIAL:
            out["looks"] = {"reached": first["look"], "bounds": list(stats.OBRIEN_FLEMING_BOUNDS)}
    if out["sample_ratio"]["frozen"]:
        out["decision"], out["verdict"] = None, SRM_SENTENCE
    elif hidden:
        out["verdict"] = ("The effect stays hidden until the planned analysis date, so an "
                          "early lucky streak cannot decide the test.")
    else:
        out["verdict"] = _verdict(out["decision"], experiment.status)
    return out


def _masked(connection, experiment, params, now) -> float | None:
    if experiment.started_at is None:
        return None
    row = sql.MASKED.execute(connection, {
        "merchant_id": params["merchant_id"], "program_id": params["program_id"],
        "channel_ids": params["channel_ids"], "started_at": experiment.started_at,
        "until": experiment.stopped_at or now}).one()
    return row.masked / row.payments if row.payments else 0.0


def _verdict(decision: str | None, status: str) -> str:
    if decision == stats.STOP_FOR_EFFECT:
        return "The variants differ by more than chance would explain: you can stop and promote."
    if decision == stats.NO_DIFFERENCE:
        return "No difference big enough to matter was found: keep the simpler rule."
    if status == ExperimentStatus.DRAFT:
        return "The experiment has not started."
    return "Keep going: not enough payers have completed their follow-up yet."
