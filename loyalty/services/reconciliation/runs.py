"""Reconciliation runs: pull a channel's C2B transactions for a window and recover the
payments whose confirmation never reached us (DARAJA.md 4.8, 17; DESIGN.md section 9).

Safaricom does not retry a confirmation, so a minute of downtime loses payments silently.
A run asks Pull Transactions for the window page by page (`OffSetValue` is a row offset)
until a page comes back empty. Each page is one unit of work: the receipts we hold are
counted as known and never touched; each unknown C2B payment goes through the same
idempotent insert as a callback (ON CONFLICT (merchant_id, trans_id) DO NOTHING), with
source `pull`, and is then credited and texted by the usual workers. A callback arriving
later for a recovered receipt is therefore a duplicate, and so is the same row in a
second run: nothing is ever credited twice.

A run that cannot finish says why and ends `failed`: Safaricom's errors (after a few
tries for a page it could not serve), or the same page sent twice (paging would never
end). A row that cannot be read is skipped with its reason and counted; a readable row is
never dropped. The rows of a page are committed with the run's counts, so a run that dies
half way (a worker killed) resumes where it stopped when its task is delivered again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from loyalty import background, metrics, nudge
from loyalty.background import TaskName
from loyalty.daraja.errors import DarajaError, DarajaUnavailable
from loyalty.daraja.pull import IgnoredRow, PulledPayment, PullPage, SkippedRow, classify
from loyalty.db.inserts import insert_ignore
from loyalty.errors import Conflict, NotFound
from loyalty.extensions import db
from loyalty.models import (
    MpesaChannel,
    Payment,
    ReconciliationRun,
    RunState,
    RunTrigger,
    StepState,
)
from loyalty.models.base import utcnow
from loyalty.services.channel_setup import ChannelAccess, channel_access
from loyalty.services.channels import get_channel
from loyalty.services.reconciliation.rows import ZoneGuess, page_signature, payment_values
from loyalty.services.reconciliation.windows import DEFAULT_SPAN, reconcile_window
from loyalty.tenancy import all_merchants, tenant_context
from loyalty.unit_of_work import transactional, unit_of_work

log = logging.getLogger(__name__)

MAX_PAGES = 10_000  # far beyond 48 hours of the busiest shortcode; a run never loops forever
PAGE_RETRIES = (1.0, 4.0, 10.0)  # seconds before asking again for a page Safaricom failed
# A run still `running` this long after it started was left by a dead worker.
STALE_AFTER = timedelta(hours=1)
WAIT_POLL = 0.25


class RunStopped(Exception):
    """The run cannot go on; str() says why, for the merchant."""


# --- starting runs -----------------------------------------------------------------------


@transactional
def start_reconciliation(channel_id: int, *, since: datetime | None = None,
                         until: datetime | None = None) -> ReconciliationRun:
    """Queue a run over [since, until] (default: the last 24 hours).

    Raises ValidationFailed (a window Pull cannot answer), Conflict (`pull_not_registered`,
    `reconciliation_running`) and NotFound."""
    channel = get_channel(channel_id)
    window = reconcile_window(utcnow(), since, until)
    if channel.pull_state != StepState.DONE:
        raise Conflict("Register the channel for Pull Transactions first "
                       "(POST /mpesa-channels/{id}/pull/register).", code="pull_not_registered")
    return _queue_run(channel, window, RunTrigger.MERCHANT)


def schedule_reconciliations() -> int:
    """Beat (its task owns the transaction): a run over the last 24 hours for every active
    channel registered for Pull, each as its own merchant; a channel with a run in progress
    is left to it."""
    with all_merchants():  # the fan-out only lists ids; each run is its merchant's
        pairs = db.session.execute(
            sa.select(MpesaChannel.merchant_id, MpesaChannel.id)
            .where(MpesaChannel.is_active.is_(True), MpesaChannel.archived_at.is_(None),
                   MpesaChannel.pull_state == StepState.DONE)
            .order_by(MpesaChannel.id)).all()
    queued = 0
    for merchant_id, channel_id in pairs:
        with tenant_context(merchant_id):
            now = utcnow()
            try:
                _queue_run(get_channel(channel_id), (now - DEFAULT_SPAN, now),
                           RunTrigger.SCHEDULE)
                queued += 1
            except Conflict:
                pass  # its run in progress covers most of the window; the next one the rest
    return queued


def _queue_run(channel: MpesaChannel, window: tuple[datetime, datetime],
               trigger: RunTrigger) -> ReconciliationRun:
    """A new run, queued; Conflict while another run of the channel is in progress (the
    partial unique index settles two requests racing)."""
    running = Conflict("A reconciliation of this channel is running; wait for it to finish.",
                       code="reconciliation_running")
    if _running(channel.id) is not None:
        raise running
    run = ReconciliationRun(channel_id=channel.id, trigger=trigger, window_from=window[0],
                            window_to=window[1], state=RunState.RUNNING, skipped_reasons={})
    try:
        with db.session.begin_nested():
            db.session.add(run)
            db.session.flush()
    except IntegrityError:
        raise running from None
    background.enqueue(TaskName.RECONCILE_CHANNEL, channel.merchant_id, run.id)
    return run


def _running(channel_id: int) -> ReconciliationRun | None:
    """The channel's run in progress; one left behind by a dead worker is closed first."""
    run = db.session.scalar(sa.select(ReconciliationRun).where(
        ReconciliationRun.channel_id == channel_id, ReconciliationRun.state == RunState.RUNNING)
        .order_by(ReconciliationRun.id.desc()).limit(1))
    if run is not None and run.started_at < utcnow() - STALE_AFTER:
        run.state, run.finished_at = RunState.FAILED, utcnow()
        run.error = "Interrupted: the worker running it stopped; a later run covers its window."
        return None
    return run


# --- the worker's run --------------------------------------------------------------------


@dataclass(frozen=True)
class RunWork:
    run_id: int
    channel_id: int
    access: ChannelAccess
    window_from: datetime
    window_to: datetime
    offset: int  # rows already read: a redelivered task resumes there


def reconcile(run_id: int) -> None:
    """Worker: page through the run's window and record every page; then finish the run.
    Safe to run again (a finished run is left alone, a running one resumes)."""
    work = _work(run_id)
    if work is None:
        return
    client = work.access.client()
    offset, previous, zone, pages = work.offset, None, ZoneGuess(), 0
    try:
        while True:
            page = _page(client, work, offset)
            if not page.rows:
                break
            signature = page_signature(page.rows)
            if signature == previous:
                raise RunStopped(f"Safaricom sent the same {len(page.rows)} rows again at "
                                 f"offset {offset}; the run stopped instead of looping.")
            record_page(run_id, work.channel_id, page.rows, zone)
            previous, offset, pages = signature, offset + len(page.rows), pages + 1
            if pages >= MAX_PAGES:
                raise RunStopped(f"More than {MAX_PAGES} pages; the run stopped.")
    except DarajaError as exc:
        return _finish(run_id, error=f"Pull Transactions failed at offset {offset}: {exc}")
    except RunStopped as exc:
        return _finish(run_id, error=str(exc))
    _finish(run_id)


def _work(run_id: int) -> RunWork | None:
    with unit_of_work():
        run = db.session.get(ReconciliationRun, run_id)
        if run is None or run.state != RunState.RUNNING:
            return None
        work = dict(run_id=run.id, channel_id=run.channel_id, window_from=run.window_from,
                    window_to=run.window_to, offset=run.rows_seen)
    try:
        access = channel_access(work["channel_id"])
    except NotFound:
        _finish(run_id, error="The channel was archived before the run started.")
        return None
    return RunWork(access=access, **work)


def _page(client, work: RunWork, offset: int) -> PullPage:
    """One page; a page Safaricom could not serve is asked for again a few times."""
    for delay in (*PAGE_RETRIES, None):
        try:
            return client.pull_query(shortcode=work.access.c2b_shortcode, start=work.window_from,
                                     end=work.window_to, offset=offset)
        except DarajaUnavailable as exc:
            if delay is None:
                raise
            log.info("Pull page at offset %s of run %s failed (%s); again in %.0f s",
                     offset, work.run_id, exc.code or exc.http_status, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def record_page(run_id: int, channel_id: int, rows: list[Any], zone: ZoneGuess) -> None:
    """One page in one unit of work: unknown C2B payments inserted (source pull), every row
    counted on the run. Known receipts are never updated."""
    with unit_of_work():
        counts: Counter[str] = Counter(rows_seen=len(rows))
        reasons: Counter[str] = Counter()
        pulled: list[PulledPayment] = []
        for row in map(classify, rows):
            if isinstance(row, PulledPayment):
                pulled.append(row)
            elif isinstance(row, IgnoredRow):
                counts["ignored"] += 1
            elif isinstance(row, SkippedRow):
                counts["skipped"] += 1
                reasons[row.reason] += 1
        held = _held({row.trans_id for row in pulled})
        zone.learn(pulled, held)
        for row in pulled:
            new_id = None if row.trans_id in held else insert_ignore(
                Payment, payment_values(row, channel_id, zone.time_of(row)),
                ["merchant_id", "trans_id"])
            if new_id is None:  # held, or it arrived meanwhile (a callback, another run)
                counts["already_known"] += 1
            else:
                counts["recovered"] += 1
                held[row.trans_id] = row.trans_time
        if counts["recovered"]:
            nudge.nudge_crediting()
            recovered = counts["recovered"]
            background.after_commit(lambda: _count_recovered(recovered))
        run = db.session.get(ReconciliationRun, run_id)
        run.pages += 1
        for name, value in counts.items():
            setattr(run, name, getattr(run, name) + value)
        if reasons:
            run.skipped_reasons = dict(Counter(run.skipped_reasons or {}) + reasons)


def _count_recovered(count: int) -> None:
    metrics.PAYMENTS_STORED.labels(source="pull").inc(count)
    metrics.RECOVERED.inc(count)


def _held(receipts: set[str]) -> dict[str, datetime]:
    """The merchant's payments among these receipts, with their times."""
    if not receipts:
        return {}
    return dict(db.session.execute(sa.select(Payment.trans_id, Payment.trans_time)
                                   .where(Payment.trans_id.in_(receipts))).all())


def _finish(run_id: int, error: str | None = None) -> None:
    with unit_of_work():
        run = db.session.get(ReconciliationRun, run_id)
        run.state = RunState.FAILED if error else RunState.DONE
        run.error, run.finished_at = error, utcnow()
        channel = db.session.get(MpesaChannel, run.channel_id)
        channel.pull_last_run_at, channel.pull_error = run.finished_at, error
        summary = (run.id, run.channel_id, run.rows_seen, run.already_known, run.recovered,
                   run.ignored, run.skipped)
    metrics.RECONCILIATIONS.labels(state="failed" if error else "done").inc()
    if error:
        log.warning("reconciliation run %s of channel %s failed: %s", run_id, summary[1], error)
    log.info("reconciliation run %s of channel %s: %s rows, %s known, %s recovered, "
             "%s ignored, %s skipped", *summary)


# --- reading runs ----------------------------------------------------------------------------


def list_runs(*, channel_id: int | None = None, limit: int = 50,
              cursor: int | None = None) -> dict[str, Any]:
    """Newest first, keyset-paginated by id: {"items": [...], "next_cursor": id | None,
    "totals": run_totals(...)} (the totals cover every run, not only the page)."""
    query = sa.select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(limit + 1)
    if channel_id is not None:
        query = query.where(ReconciliationRun.channel_id == channel_id)
    if cursor is not None:
        query = query.where(ReconciliationRun.id < cursor)
    rows = list(db.session.scalars(query))
    items = rows[:limit]
    return {"items": items, "next_cursor": items[-1].id if len(rows) > limit else None,
            "totals": run_totals(channel_id=channel_id)}


def run_totals(*, channel_id: int | None = None) -> dict[str, Any]:
    """The merchant's (or one channel's) runs by state and the payments they recovered.

    The project has no metrics endpoint, so this is where an operator or an accountant
    reads how many confirmations reconciliation has had to make up for. Counted from the
    runs, not the payments: the runs table is small, and a run's `recovered` is exactly
    the payments it inserted (each insert is committed with the count)."""
    query = sa.select(ReconciliationRun.state, sa.func.count(),
                      sa.func.coalesce(sa.func.sum(ReconciliationRun.recovered), 0)) \
        .group_by(ReconciliationRun.state)
    if channel_id is not None:
        query = query.where(ReconciliationRun.channel_id == channel_id)
    runs = {state.value: 0 for state in RunState}
    recovered = 0
    for state, count, payments in db.session.execute(query):
        runs[state.value], recovered = count, recovered + int(payments)
    return {"runs": runs, "recovered": recovered}


def get_run(run_id: int) -> ReconciliationRun:
    """One of the current merchant's runs; NotFound for anything else."""
    run = db.session.scalar(sa.select(ReconciliationRun).where(ReconciliationRun.id == run_id))
    if run is None:
        raise NotFound("Reconciliation run not found.")
    return run


def wait_for_run(run_id: int, seconds: float) -> ReconciliationRun:
    """The run once it is no longer running, or as it is after `seconds`.

    Call it outside any unit of work: each look is a short read of its own and the session
    is closed before sleeping, so a waiting web thread holds no transaction or connection."""
    deadline = time.monotonic() + seconds
    while True:
        run = get_run(run_id)
        if run.state != RunState.RUNNING or time.monotonic() >= deadline:
            return run
        db.session.close()
        time.sleep(min(WAIT_POLL, max(0.0, deadline - time.monotonic())))
