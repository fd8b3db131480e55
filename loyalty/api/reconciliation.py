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
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    return reconciliation.list_runs(**args)


@blp.route("/<int:run_id>", methods=["GET"])
@blp.response(200, RunSchema)
def get_run(run_id):
    return reconciliation.get_run(run_id)
