"""Reconciliation runs: what each Pull Transactions sweep saw and recovered."""

from flask_smorest import Blueprint

from loyalty.schemas.reconciliation import RunPageSchema, RunQueryArgsSchema, RunSchema
from loyalty.services import reconciliation

blp = Blueprint("reconciliation", __name__, url_prefix="/api/v1/reconciliation-runs",
                description="Pull Transactions runs that recover missed confirmations")


@blp.route("", methods=["GET"])
@blp.arguments(RunQueryArgsSchema, location="query")
@blp.response(200, RunPageSchema)
def list_runs(args):
    """List reconciliation runs, newest first.

    What each Pull Transactions run saw: rows, receipts already known, payments recovered,
    rows ignored or skipped. `channel_id` filters by channel."""
    return reconciliation.list_runs(**args)


@blp.route("/<int:run_id>", methods=["GET"])
@blp.response(200, RunSchema)
def get_run(run_id):
    """Show one reconciliation run.

    `state` is running, done or failed; `error` says why a run failed."""
    return reconciliation.get_run(run_id)
