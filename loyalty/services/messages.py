"""Texting customers: sending from the SMS outbox, and the sweep that re-queues lost sends.

The outbox row is written in the crediting transaction (services/crediting/), unique per
(payment, purpose), so a duplicate callback or a replay never queues a second text.
Sending happens later, in a worker, outside any database transaction; its statements are
loyalty/db/sms.py's.

A send task can be lost: Redis was unreachable when the crediting commit tried to publish
it, or the worker holding it died (Redis redelivers unacknowledged messages only after the
visibility timeout). Payments have the same safety net in the `received` sweep; here
`sweep_outbox` re-queues messages left `queued`. Sending claims each row first (`_queued`),
so a swept message is never sent twice.

Here are the claiming and the sending loop; what a call's answer becomes and how outcomes
are written are services/sms_outcomes.py's.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import replace
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from loyalty import background, metrics
from loyalty.background import TaskName
from loyalty.db import sms as statements
from loyalty.db.alone import execute_alone
from loyalty.extensions import db
from loyalty.models import Merchant, MessageKind, SkipReason, SmsMessage, SmsStatus
from loyalty.models.base import utcnow
from loyalty.services import promotions, sms_accounts, sms_calls, sms_pause
from loyalty.services.sms_outcomes import (
    FLUSH_SECONDS,
    NO_OUTCOME,
    LinkCheck,
    Outcomes,
    Outgoing,
    no_answer,
    outcome_of,
)
from loyalty.sms import backend_from_config
from loyalty.sms.base import SmsUnavailable
from loyalty.tenancy import (
    all_merchants,
    current_merchant_id,
    get_current_merchant_id,
    tenant_context,
)
from loyalty.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

RETRYABLE = (SmsUnavailable,)


def _backend():
    backend = current_app.extensions.get("sms_backend")
    if backend is None:
        backend = current_app.extensions["sms_backend"] = backend_from_config(current_app.config)
    return backend


# Sending claims up to SMS_CHUNK_SIZE messages with one statement instead of a claim per
# text (and records their outcomes a flush at a time, services/sms_outcomes.py): under a
# backlog the commits per text were most of the cost of a text (bench/README.md).
def send_message(message_id: int, *, final_attempt: bool = True) -> None:
    """Worker: send one queued message of the current merchant (idempotent: anything not
    queued is left alone). Raises a RETRYABLE error while the gateway is down, unless this
    is the last try."""
    if _send({current_merchant_id(): [message_id]}, final_attempt=final_attempt) \
            and not final_attempt:
        raise SmsUnavailable("the SMS gateway is unavailable; try again later")


def send_batch(messages: list[tuple[int, int]], *, final_attempt: bool = True,
               drain: bool = False) -> list[tuple[int, int]]:
    """Worker: send (merchant_id, message_id) pairs; returns the ones to retry later.

    With `drain`, once these are under way the sender keeps its window full with any
    other waiting texts (CLAIM_NEXT) until half its claim is spent. A send task carries
    the texts of one crediting batch, often a handful: sent on their own, a pool process
    would make a handful of calls per gateway round trip (39 texts/s at 200 ms a call in
    bench/README.md's gateway row), and the tasks behind it would wait their turn."""
    by_merchant: dict[int, list[int]] = {}
    for merchant_id, message_id in messages:
        by_merchant.setdefault(merchant_id, []).append(message_id)
    return _send(by_merchant, final_attempt=final_attempt, drain=drain)


class _Party:
    """One merchant's share of a send: its claimed chunks' outcomes and its link check.
    Every database statement for it runs as that merchant."""

    def __init__(self, merchant_id: int, platform) -> None:
        self.merchant_id = merchant_id
        self.outcomes = Outcomes(merchant_id)
        self.links = LinkCheck(merchant_id)
        # The merchant's own SMS account if it has one, and its approved sender IDs.
        with tenant_context(merchant_id):
            self.backend, self.senders = sms_accounts.route(platform)


def _claim_next(limit: int, skip: set[int]) -> list[Outgoing]:
    """Claim other texts waiting to be sent, longest waiting first (any merchant's but
    those in `skip`)."""
    now = utcnow()
    until = now + timedelta(seconds=current_app.config["SMS_CLAIM_SECONDS"])
    with all_merchants(), unit_of_work():
        rows = execute_alone(statements.CLAIM_NEXT, {
            "now": now, "until": until, "limit": limit, "skip": sorted(skip)}, rows=True)
    return [Outgoing(row.id, row.recipient, row.recipient_form, row.body, row.attempts,
                     row.purpose, row.kind, row.merchant_id) for row in rows]


def _send(by_merchant: dict[int, list[int]], *, final_attempt: bool,
          drain: bool = False) -> list[tuple[int, int]]:
    """Claim these messages chunk by chunk (SMS_CHUNK_SIZE of one merchant with one
    statement; those still queued and not held by another sender), send them
    SMS_CONCURRENCY at a time (services/sms_calls.py) and record each outcome; the
    (merchant, message) pairs to retry later.

    The window is shared by every merchant in the send: a batch is mostly one or two texts
    for each of many merchants, and filling the window one merchant's chunk at a time made
    one call wait for the last at 200 ms each (bench/README.md, gateway row). A chunk is
    claimed when the window is about to run dry, so no claim waits long unsent.

    Once the gateway is unavailable (no answer, 429, 5xx) no further call starts (each
    would wait for its own timeout, or add to the gateway's trouble): the calls in flight
    finish, the rest is released unattempted and retried with the task's backoff. An
    account out of credit pauses its sending (services/sms_pause.py): the message that
    found out and the rest are released and left queued for when the pause ends, not
    retried. The first claim bounds everything: no chunk is claimed and no call starts
    once half of it is spent, each call's timeout is what is left of it, and a call still
    unanswered when it is nearly over is recorded as a timeout (the message may have gone)
    rather than waited for. A merchant with its own SMS account sends through it, and only
    that account's pause stops its texts (services/sms_accounts.py)."""
    platform = _backend()
    size = current_app.config["SMS_CHUNK_SIZE"]
    window = current_app.config["SMS_CONCURRENCY"]
    chunks = deque((merchant_id, ids[start:start + size])
                   for merchant_id, ids in by_merchant.items()
                   for start in range(0, len(ids), size))
    claim = current_app.config["SMS_CLAIM_SECONDS"]
    started = time.monotonic()
    stop_starting_at = started + claim / 2
    # Outcomes are written before the claim runs out, so nobody else holds them meanwhile.
    deadline = started + claim - min(2.0, claim / 10)
    parties: dict[int, _Party] = {}
    calls = sms_calls.GatewayCalls(platform, window)
    paused: set[str] = set()  # accounts found out of credit (or already paused)
    waiting: deque[Outgoing] = deque()
    retry: list[tuple[int, int]] = []
    claimed = 0
    stopped: str | None = None  # why no further call starts: unavailable, paused, claim
    skipped: set[int] = set()  # merchants whose account is paused: not drained
    cleared: set[str] = set()  # accounts Redis said were not paused, asked once per send

    def admit(fresh: list[Outgoing]) -> None:
        """Claimed texts into the window with their merchant's sender ID; while their
        account is paused, back to the queue (the sweep sends them after the pause)."""
        nonlocal claimed
        for outgoing in fresh:
            if outgoing.merchant_id not in parties:
                parties[outgoing.merchant_id] = _Party(outgoing.merchant_id, platform)
            party = parties[outgoing.merchant_id]
            account = party.backend.account
            if account in paused or (account not in cleared and sms_pause.current(account)):
                paused.add(account)
                skipped.add(outgoing.merchant_id)
                party.outcomes.release([outgoing.id])
                continue
            cleared.add(account)
            claimed += 1
            waiting.append(replace(outgoing, sender_id=party.senders.get(str(outgoing.kind))))

    try:
        while waiting or chunks or calls.busy or drain:
            while not stopped and calls.room:
                if time.monotonic() > stop_starting_at:
                    stopped = "claim"
                    break
                if drain and not waiting and not chunks:
                    # Nothing of our own left to start: other waiting texts, claimed with
                    # one statement (none once an account ran out of credit: draining
                    # stops there).
                    fresh = [] if paused else _claim_next(size, skipped)
                    if fresh:
                        admit(fresh)
                        continue
                    # None waiting just now. While our calls are under way more texts are
                    # queued (crediting writes them every few milliseconds): look again
                    # after their answers, the last one's too, rather than end the send
                    # and leave the next ones to a task of their own (texts stalled near
                    # 680/s with senders that stopped at the first empty claim).
                    drain = calls.busy and not paused
                    break
                if not waiting and chunks:
                    merchant_id, ids = chunks.popleft()
                    if merchant_id not in skipped:
                        # Claimed first: most chunks of a busy outbox were taken already
                        # by a draining sender, and then their merchant's route is never
                        # needed.
                        with tenant_context(merchant_id):
                            admit(_queued(ids))
                    continue
                if not waiting:
                    break
                outgoing = waiting.popleft()
                party = parties[outgoing.merchant_id]
                if party.backend.account in paused:
                    party.outcomes.release([outgoing.id])
                    continue
                if outgoing.kind == MessageKind.PROMOTIONAL and not promotions.in_window(utcnow()):
                    party.outcomes.hold(outgoing.id, promotions.window_start(utcnow()))
                    continue
                refused = party.links.refused(outgoing.body)
                if refused:  # the text itself, whatever template or name put the link there
                    party.outcomes.add({**NO_OUTCOME, "m_id": outgoing.id,
                                        "m_status": SmsStatus.SKIPPED, "m_error": refused,
                                        "m_reason": SkipReason.LINK}, outgoing, code="link")
                    continue
                calls.start(outgoing, deadline - time.monotonic(), party.backend)
            if not calls.busy:
                if stopped or not (waiting or chunks):
                    break
                continue
            for answer in calls.answers(min(FLUSH_SECONDS, deadline - time.monotonic())):
                outgoing = answer.item
                party = parties[outgoing.merchant_id]
                account = party.backend.account
                metrics.SMS_GATEWAY_SECONDS.labels(account=account).observe(answer.seconds)
                outcome = outcome_of(answer, final_attempt=final_attempt)
                if outcome.get("out_of_credit"):
                    party.outcomes.release([outgoing.id])
                    if account not in paused:
                        sms_pause.pause(account, outcome["m_error"])
                        paused.add(account)
                    continue
                party.outcomes.add(outcome, outgoing, code=outcome["code"])
                if outcome["m_status"] == SmsStatus.QUEUED:  # to be retried
                    retry.append((outgoing.merchant_id, outgoing.id))
                if outcome.get("unavailable") and not stopped:
                    stopped = "unavailable"
            if time.monotonic() >= deadline:
                for outgoing in calls.abandon():
                    parties[outgoing.merchant_id].outcomes.add(
                        no_answer(outgoing, final_attempt), outgoing, code="timeout")
                    retry += [] if final_attempt else [(outgoing.merchant_id, outgoing.id)]
            for party in parties.values():
                party.outcomes.flush_if_due()
        for outgoing in waiting:  # claimed, never attempted: released at once
            parties[outgoing.merchant_id].outcomes.release([outgoing.id])
        # Retried later, except a paused account's (queued for the sweep after the pause).
        retry += [(o.merchant_id, o.id) for o in waiting
                  if parties[o.merchant_id].backend.account not in paused]
        retry += [(merchant_id, i) for merchant_id, ids in chunks for i in ids
                  if merchant_id not in parties
                  or parties[merchant_id].backend.account not in paused]
    finally:
        for party in parties.values():
            party.outcomes.flush()
        # One line per send, not per text (each text's outcome is on its outbox row).
        log.info("SMS: %d of %d claimed sent (%d merchants), %d to retry%s%s",
                 sum(p.outcomes.sent for p in parties.values()), claimed, len(parties),
                 len(retry), f" (stopped: {stopped})" if stopped else "",
                 f" (paused: {', '.join(sorted(paused))})" if paused else "")
    return retry


def _queued(message_ids: list[int]) -> list[Outgoing]:
    """Claim the current merchant's messages among these that are still queued and not
    held by another sender, in that order (one statement)."""
    now = utcnow()
    # Claim them: the outbox sweep or a redelivered task that reads the same rows while
    # this worker is still sending gets nothing, so no text goes out twice at once. One
    # prepared UPDATE, committed on its own (db.alone.execute_alone): a claim is the whole
    # unit of work, and repeating it after a dropped connection at worst leaves the
    # messages to the sweep once the claim runs out. Core, so it names the current
    # merchant itself.
    with unit_of_work():
        rows = execute_alone(statements.CLAIM, {
            "c_ids": list(message_ids), "c_merchant": current_merchant_id(), "c_now": now,
            "c_until": now + timedelta(seconds=current_app.config["SMS_CLAIM_SECONDS"])},
            rows=True)
    merchant_id = current_merchant_id()
    found = {row.id: Outgoing(row.id, row.recipient, row.recipient_form, row.body, row.attempts,
                              row.purpose, row.kind, merchant_id) for row in rows}
    return [found[i] for i in message_ids if i in found]


def sending_account() -> str:
    """The SMS account the current merchant's texts go through (its own, else the
    platform's): what the dashboard asks sms_pause about. The platform's with no merchant
    set (the metrics)."""
    if get_current_merchant_id() is None:
        return _backend().account
    return sms_accounts.route(_backend())[0].account


SWEEP_BATCH = 100


def sweep_outbox(limit: int = 2000) -> int:
    """Beat (its task owns the transaction): queue send tasks for messages waiting longer than SMS_SWEEP_AGE and not claimed."""
    # While the platform's account has no credit, only merchants with their own account
    # can send (services/sms_pause.py; each own account has its own pause).
    platform_paused = sms_pause.current(_backend().account) is not None
    now = utcnow()
    older_than = now - timedelta(seconds=current_app.config["SMS_SWEEP_AGE"])
    with all_merchants():  # lists ids only; sending runs as each message's merchant
        rows = db.session.execute(
            sa.select(SmsMessage.merchant_id, SmsMessage.id)
            .where(SmsMessage.status == SmsStatus.QUEUED, SmsMessage.updated_at < older_than,
                   sa.or_(SmsMessage.claimed_until.is_(None), SmsMessage.claimed_until < now),
                   # held promotional texts are queued by the sweep once their window opens
                   sa.or_(SmsMessage.not_before.is_(None), SmsMessage.not_before <= now),
                   *([SmsMessage.merchant_id.in_(sa.select(Merchant.id).where(
                       Merchant.sms_username.is_not(None)))] if platform_paused else []))
            .order_by(SmsMessage.id).limit(limit)).all()
    pairs = [[merchant_id, message_id] for merchant_id, message_id in rows]
    for start in range(0, len(pairs), SWEEP_BATCH):
        background.enqueue(TaskName.SEND_SMS_BATCH, pairs[start:start + SWEEP_BATCH])
    return len(pairs)
