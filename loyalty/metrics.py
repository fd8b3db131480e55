"""The platform's Prometheus metrics, defined once (DESIGN.md section 14).

A leaf: prometheus-client and nothing of the app, so the Daraja client, the SMS outbox,
the callback path and crediting can all count without importing each other. What they
count is read at `/metrics` (api/metrics.py), which adds what is counted at scrape time
rather than by a process: the crediting and SMS backlogs and the paused SMS accounts.

Several processes (gunicorn workers, Celery pool processes) count at once. In production
each process group runs with `PROMETHEUS_MULTIPROC_DIR` set to its own folder under
`METRICS_DIR` (the Procfile does it, `python -m loyalty.metrics_dir`), where
prometheus-client keeps each process's values in a small memory-mapped file; the scrape adds
the files up per group (docs/OPERATIONS.md). Without it (`make run`, the tests) the values
live in the process, which is then the only one.

Only counters and histograms: a
gauge of a process's own would need a mode to add processes up and tidying when they die;
the numbers that are gauges by nature are worked out at scrape time instead.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Callbacks (hooks/): kind = c2b_confirmation, c2b_validation, stk, result, timeout;
# outcome = accepted, duplicate, rejected (400), refused (403), unknown (404), failed (5xx).
CALLBACKS = Counter("loyalty_callbacks", "Safaricom callbacks answered, by kind and outcome",
                    ["kind", "outcome"])
PAYMENTS_STORED = Counter("loyalty_payments_stored",
                          "Payments stored (new M-Pesa receipts), by source", ["source"])
PAYMENTS_CREDITED = Counter("loyalty_payments_credited",
                            "Payments settled by crediting, by outcome "
                            "(credited, unattributed, skipped, failed)", ["outcome"])
CREDITING_LAG = Histogram("loyalty_crediting_lag_seconds",
                          "Seconds from a payment stored to it settled by crediting",
                          ["outcome"],
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600))
# status = sent, failed, retry (queued again), skipped, released (not tried);
# code = the gateway's (AT statusCode, http_429, timeout, …) or the reason of a skip.
SMS = Counter("loyalty_sms", "Texts handled by the outbox, by status and gateway code",
              ["status", "code"])
SMS_GATEWAY_SECONDS = Histogram("loyalty_sms_gateway_seconds",
                                "Seconds per SMS gateway call", ["account"],
                                buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10, 30))
SMS_PAUSES = Counter("loyalty_sms_account_pauses",
                     "SMS accounts paused for lack of credit (AT 405 InsufficientBalance)",
                     ["account"])
# api = oauth, c2b_register, stk_push, stk_query, balance, status, reversal, pull_register,
# pull_query; result = ok, refused (a Daraja error answer), unavailable.
DARAJA_CALLS = Counter("loyalty_daraja_calls", "Daraja calls, by API and result",
                       ["api", "result"])
DARAJA_SECONDS = Histogram("loyalty_daraja_call_seconds", "Seconds per Daraja call", ["api"],
                           buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
OAUTH_MINTS = Counter("loyalty_daraja_oauth_mints", "Daraja access tokens minted, by result",
                      ["result"])
RECONCILIATIONS = Counter("loyalty_reconciliation_runs",
                          "Pull Transactions reconciliation runs finished, by state", ["state"])
RECOVERED = Counter("loyalty_reconciliation_recovered_payments",
                    "Payments recovered by reconciliation (their callback never came)")
RATE_LIMITED = Counter("loyalty_rate_limited", "Requests refused by a rate limit (429)",
                       ["endpoint"])

def callback_outcome(status: int) -> str:
    """A callback's answer as the `outcome` label."""
    if status < 300:
        return "accepted"
    if status >= 500:
        return "failed"
    return {403: "refused", 404: "unknown"}.get(status, "rejected")


def daraja_api(path: str) -> str:
    """A Daraja path as the `api` label (a fixed set: never a shortcode or an id)."""
    for fragment, name in _DARAJA_APIS:
        if fragment in path:
            return name
    return "other"


_DARAJA_APIS = (("/oauth/", "oauth"), ("/registerurl", "c2b_register"),
                ("/simulate", "c2b_simulate"), ("/stkpushquery/", "stk_query"),
                ("/stkpush/", "stk_push"), ("/accountbalance/", "balance"),
                ("/transactionstatus/", "status"), ("/reversal/", "reversal"),
                ("/pulltransactions/v1/register", "pull_register"),
                ("/pulltransactions/v1/query", "pull_query"))


def daraja_result(status: int) -> str:
    return "ok" if status < 300 else "unavailable" if status >= 500 or status == 429 else "refused"


ALL = (CALLBACKS, PAYMENTS_STORED, PAYMENTS_CREDITED, CREDITING_LAG, SMS, SMS_GATEWAY_SECONDS,
       SMS_PAUSES, DARAJA_CALLS, DARAJA_SECONDS, OAUTH_MINTS, RECONCILIATIONS, RECOVERED,
       RATE_LIMITED)
