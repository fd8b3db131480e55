"""Experiments' hand-written statements (PostgreSQL): the crediting batch's two, the plan's
baseline and the results' aggregates, each bound to its merchant."""

from __future__ import annotations

import sqlalchemy as sa

from loyalty.db.statements import ANY_OF, ONE, PER_ROW, Statement
from loyalty.models import Experiment

_EXPERIMENTS = Experiment.__table__

# --- the crediting batch ---------------------------------------------------------------------

RUNNING = Statement(
    "experiments.running",
    sa.select(_EXPERIMENTS.c.id, _EXPERIMENTS.c.merchant_id, _EXPERIMENTS.c.program_id,
              _EXPERIMENTS.c.salt, _EXPERIMENTS.c.variants, _EXPERIMENTS.c.split,
              _EXPERIMENTS.c.channel_ids)
    .where(_EXPERIMENTS.c.status == "running",
           _EXPERIMENTS.c.merchant_id.in_(sa.bindparam("merchant_id", expanding=True))),
    doc="The running experiments of the batch's merchants (one read per batch).",
    tenant="merchant_id", form=ANY_OF)

ASSIGNMENT_COLUMNS = ("merchant_id", "experiment_id", "unit_key", "variant", "customer_id",
                      "payment_id")

ASSIGNMENT_INSERT = Statement("experiments.assignment_insert", sa.text("""
    INSERT INTO experiment_assignments (merchant_id, experiment_id, unit_key, variant,
                                        customer_id, payment_id, first_paid_at)
    SELECT v.merchant_id, v.experiment_id, v.unit_key, v.variant, v.customer_id,
           v.payment_id, p.trans_time
    FROM unnest(CAST(:merchant_id AS integer[]), CAST(:experiment_id AS integer[]),
                CAST(:unit_key AS text[]), CAST(:variant AS text[]),
                CAST(:customer_id AS integer[]), CAST(:payment_id AS integer[]))
         WITH ORDINALITY AS v(merchant_id, experiment_id, unit_key, variant, customer_id,
                              payment_id, n)
    JOIN payments AS p ON p.id = v.payment_id AND p.merchant_id = v.merchant_id
    ORDER BY v.n
    ON CONFLICT (experiment_id, unit_key) DO NOTHING
    RETURNING experiment_id, unit_key, variant"""),
    doc="The batch's first eligible payments of payers not assigned yet; a payer assigned "
        "before (or twice in one batch) keeps the first row: sticky. The payment's own time "
        "is their start.",
    tenant="merchant_id", form=PER_ROW)

# --- the plan: the last 90 days of the program's payments -------------------------------------

_CHANNEL_FILTER = "(CAST(:channel_ids AS integer[]) IS NULL OR p.channel_id = ANY(CAST(:channel_ids AS integer[])))"
_COUNTED = "p.status IN ('credited', 'reversed')"

BASELINE = Statement("experiments.baseline", sa.text(f"""
    WITH window_payments AS (
        SELECT p.customer_id, p.trans_time FROM payments AS p
        WHERE p.merchant_id = :merchant_id AND p.program_id = :program_id
          AND p.customer_id IS NOT NULL AND {_COUNTED} AND {_CHANNEL_FILTER}
          AND p.trans_time >= :since AND p.trans_time <= :now
    ), firsts AS (
        SELECT customer_id, min(trans_time) AS t0 FROM window_payments GROUP BY customer_id
    )
    SELECT
        count(*) FILTER (WHERE NOT EXISTS (
            SELECT 1 FROM payments AS p WHERE p.merchant_id = :merchant_id
              AND p.program_id = :program_id AND p.customer_id = f.customer_id
              AND {_COUNTED} AND p.trans_time < :since)) AS new_payers,
        count(*) FILTER (WHERE f.t0 <= :complete_before) AS followed,
        count(*) FILTER (WHERE f.t0 <= :complete_before AND EXISTS (
            SELECT 1 FROM window_payments AS w WHERE w.customer_id = f.customer_id
              AND w.trans_time > f.t0
              AND w.trans_time <= f.t0 + make_interval(days => :days))) AS repeaters
    FROM firsts AS f"""),
    doc="The plan's baseline over the window: payers new to the program, and of those "
        "whose first payment in it is at least `days` old, how many paid again within "
        "`days`.",
    tenant="merchant_id", form=ONE)

# --- results: aggregated per variant in the database ------------------------------------------

RESULTS = Statement("experiments.results", sa.text(f"""
    WITH a AS (
        SELECT id, variant, customer_id, payment_id, first_paid_at,
               first_paid_at <= :complete_before AS complete
        FROM experiment_assignments
        WHERE merchant_id = :merchant_id AND experiment_id = :experiment_id
    ), repeaters AS (
        SELECT DISTINCT a.id FROM a
        JOIN payments AS p ON p.merchant_id = :merchant_id AND p.customer_id = a.customer_id
        WHERE a.complete AND p.program_id = :program_id AND p.id <> a.payment_id
          AND {_COUNTED} AND {_CHANNEL_FILTER}
          AND p.trans_time >= a.first_paid_at
          AND p.trans_time <= a.first_paid_at + make_interval(days => :days)
    ), points AS (
        SELECT customer_id, sum(points) AS points FROM ledger_entries
        WHERE merchant_id = :merchant_id AND experiment_id = :experiment_id
        GROUP BY customer_id
    )
    SELECT a.variant,
        count(*) AS assigned,
        count(*) FILTER (WHERE a.complete) AS enrolled,
        count(r.id) AS repeaters,
        count(*) FILTER (WHERE c.sms_opt_out) AS opted_out,
        coalesce(sum(pt.points), 0) AS points
    FROM a
    JOIN customers AS c ON c.id = a.customer_id AND c.merchant_id = :merchant_id
    LEFT JOIN repeaters AS r ON r.id = a.id
    LEFT JOIN points AS pt ON pt.customer_id = a.customer_id
    GROUP BY a.variant"""),
    doc="Per variant, aggregated in the database: payers assigned, those with complete "
        "follow-up (first eligible payment at least `days` before now: right-censoring), of "
        "them the repeaters (another counted payment to the program within `days`); "
        "opted-out customers and the points the experiment's entries gave.",
    tenant="merchant_id", form=ONE)

MASKED = Statement("experiments.masked", sa.text(f"""
    SELECT count(*) AS payments,
           count(*) FILTER (WHERE p.msisdn_form = 'masked') AS masked
    FROM payments AS p
    WHERE p.merchant_id = :merchant_id AND p.program_id = :program_id AND {_CHANNEL_FILTER}
      AND p.trans_time >= :started_at AND p.trans_time <= :until"""),
    doc="The program's payments while the experiment ran, and how many came from masked "
        "payers (excluded from assignment).",
    tenant="merchant_id", form=ONE)
