"""Reconciliation with Pull Transactions: registering a channel, and runs that recover the
payments whose confirmation never arrived (DESIGN.md section 9).

- `registration` registers a channel's shortcode for Pull (a worker calls Safaricom);
- `runs` starts runs (the API and beat), pages through a window (a worker) and reads them;
- `windows` (pure) says which windows Pull can answer; `rows` (pure) turns pulled rows
  into payments.
"""

from loyalty.services.reconciliation.registration import (
    pull_outcome,
    register_pull,
    request_pull_registration,
)
from loyalty.services.reconciliation.runs import (
    get_run,
    list_runs,
    reconcile,
    run_totals,
    schedule_reconciliations,
    start_reconciliation,
    wait_for_run,
)

__all__ = ["get_run", "list_runs", "pull_outcome", "reconcile", "register_pull",
           "request_pull_registration", "run_totals", "schedule_reconciliations", "start_reconciliation",
           "wait_for_run"]
