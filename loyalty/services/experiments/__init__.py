"""Experiments on a program's earning rule (DESIGN.md section 12): plan, start, stop, promote.

assignment.py decides who gets which variant (both crediting paths call it); results.py
reads an experiment's outcome; loyalty/stats.py holds the statistics.
"""

from __future__ import annotations

import math
import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from loyalty import stats
from loyalty.db import experiments as sql
from loyalty.errors import Conflict, NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import Experiment, ExperimentStatus, LoyaltyProgram
from loyalty.models.base import utcnow
from loyalty.services.pages import keyset_page
from loyalty.tenancy import current_merchant_id
from loyalty.unit_of_work import transactional

PLAN_DAYS = 90
MAX_WEEKS = 12


class PlanRefused(ValidationFailed):
    """422 whose body carries the plan's numbers (`plan`) beside the sentence."""

    code = "plan_not_feasible"


def experiment_page(*, limit: int = 50, cursor: int | None = None) -> dict[str, Any]:
    return keyset_page(sa.select(Experiment), Experiment.id, limit=limit, cursor=cursor,
                       newest_first=True)


def get_experiment(experiment_id: int) -> Experiment:
    experiment = db.session.scalar(sa.select(Experiment).where(Experiment.id == experiment_id))
    if experiment is None:
        raise NotFound("Experiment not found.")
    return experiment


def _program(code: str) -> LoyaltyProgram:
    program = db.session.scalar(sa.select(LoyaltyProgram).where(LoyaltyProgram.code == code))
    if program is None:
        raise ValidationFailed("No such program.",
                               fields={"program": [f"No loyalty program with code '{code}'."]})
    return program


def plan(program: LoyaltyProgram, channel_ids: list[int] | None, days: int, mde: float,
         split: list[int]) -> dict[str, Any]:
    """Baseline and weekly new payers from the last 90 days; sample size; weeks; feasible.
    The smallest share of the split fills last, so it sets the weeks."""
    now = utcnow()
    row = sql.BASELINE.execute(db.session.connection(), {
        "merchant_id": current_merchant_id(), "program_id": program.id,
        "channel_ids": channel_ids or None, "since": now - timedelta(days=PLAN_DAYS),
        "now": now, "complete_before": now - timedelta(days=days), "days": days}).one()
    baseline = row.repeaters / row.followed if row.followed else 0.0
    weekly = row.new_payers * 7 / PLAN_DAYS
    smallest = min(split) / 100
    per_arm = stats.sample_size_per_arm(baseline, mde)
    weeks = None
    if per_arm is not None and weekly > 0:
        weeks = math.ceil(per_arm / (weekly * smallest) - 1e-9)
    feasible = weeks is not None and weeks <= MAX_WEEKS
    out = {"baseline_rate": round(baseline, 4), "weekly_new_payers": round(weekly, 1),
           "sample_size_per_arm": per_arm, "estimated_weeks": weeks, "feasible": feasible,
           "feasible_effect": None}
    if not feasible:
        out["feasible_effect"] = stats.smallest_feasible_effect(
            baseline, weekly * smallest * MAX_WEEKS)
    return out


def _check(data: dict[str, Any]) -> None:
    keys = [v["key"] for v in data["variants"]]
    problems: dict[str, list[str]] = {}
    if len(set(keys)) != len(keys):
        problems["variants"] = ["Each variant needs its own key."]
    if len(data["split"]) != len(keys):
        problems["split"] = [f"Give one share per variant ({len(keys)})."]
    elif sum(data["split"]) != 100:
        problems["split"] = ["The shares must add up to 100."]
    if problems:
        raise ValidationFailed("Some fields are invalid.", fields=problems)


@transactional
def create_experiment(data: dict[str, Any]) -> Experiment:
    """Plan the experiment; refused (PlanRefused) when enrolment would pass 12 weeks."""
    _check(data)
    program = _program(data["program"])
    days = data["metric"]["days"]
    mde = float(data["minimum_detectable_effect"])
    found = plan(program, data.get("channel_ids"), days, mde, data["split"])
    if not found["feasible"]:
        effect = found["feasible_effect"]
        hint = (f" An effect of {effect:.1%} could be measured in {MAX_WEEKS} weeks."
                if effect else " Too few new payers reach this program to measure any effect "
                               f"in {MAX_WEEKS} weeks.")
        error = PlanRefused(
            f"This experiment would need more than {MAX_WEEKS} weeks of new payers." + hint,
            fields={"minimum_detectable_effect": ["Too small to measure in 12 weeks."]})
        error.extra = {"plan": found}
        raise error
    experiment = Experiment(
        name=data["name"], program_id=program.id, channel_ids=data.get("channel_ids") or None,
        variants=[{"key": v["key"], "rule": _plain_rule(v["rule"])} for v in data["variants"]],
        split=list(data["split"]), metric_days=days, minimum_detectable_effect=Decimal(str(mde)),
        method=data["method"], salt=secrets.token_hex(16), plan=found)
    db.session.add(experiment)
    db.session.flush()
    return experiment


def _plain_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule as JSON stores it: decimals as strings."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in rule.items()}


@transactional
def start_experiment(experiment_id: int) -> Experiment:
    experiment = get_experiment(experiment_id)
    if experiment.status != ExperimentStatus.DRAFT:
        raise Conflict("Only a planned experiment can start.", code="not_draft")
    experiment.status, experiment.started_at = ExperimentStatus.RUNNING, utcnow()
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict("Another experiment is running on this program; stop it first.",
                       code="experiment_running") from None
    return experiment


@transactional
def stop_experiment(experiment_id: int) -> Experiment:
    experiment = get_experiment(experiment_id)
    if experiment.status != ExperimentStatus.RUNNING:
        raise Conflict("Only a running experiment can stop.", code="not_running")
    experiment.status, experiment.stopped_at = ExperimentStatus.STOPPED, utcnow()
    return experiment


@transactional
def promote_variant(experiment_id: int, variant: str) -> Experiment:
    """Write the variant's rule into the program (stopping the experiment if it runs)."""
    experiment = get_experiment(experiment_id)
    if experiment.status in (ExperimentStatus.DRAFT, ExperimentStatus.PROMOTED):
        raise Conflict("Only a started experiment that was not promoted yet can be promoted.",
                       code="not_promotable")
    chosen = next((v for v in experiment.variants if v["key"] == variant), None)
    if chosen is None:
        raise ValidationFailed("No such variant.",
                               fields={"variant": [f"No variant '{variant}' in this experiment."]})
    program = db.session.get(LoyaltyProgram, experiment.program_id)
    for name, value in chosen["rule"].items():
        setattr(program, name, Decimal(value) if isinstance(value, str) else value)
    if program.stamps_required and not program.stamp_reward:
        raise ValidationFailed("A stamp card needs a reward.", fields={
            "variant": ["Give the program a stamp reward before promoting a stamp card."]})
    if experiment.status == ExperimentStatus.RUNNING:
        experiment.stopped_at = utcnow()
    experiment.status, experiment.promoted_variant = ExperimentStatus.PROMOTED, variant
    return experiment


def list_experiments() -> list[Experiment]:
    """Newest first (the web list)."""
    return list(db.session.scalars(sa.select(Experiment).order_by(Experiment.id.desc())))
