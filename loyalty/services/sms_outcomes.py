"""What a gateway call's answer becomes, and how a send's outcomes are written.

Split from services/messages.py, which keeps the claiming and the sending loop: the loop
decides *when* a text goes and stops, this module *what was learned* from each call (sent,
retry, failed, out of credit, blacklisted) and writes it back to the outbox a flush at a
time, as the text's merchant. The two change for different reasons (the gateway's answers
and the outbox's columns here; the window, the claims and the pauses there), and together
they were past the 400-line limit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import current_app

from loyalty import metrics
from loyalty.db import sms as statements
from loyalty.db.alone import execute_alone
from loyalty.extensions import db
from loyalty.models import MessageKind, SmsStatus
from loyalty.models.base import utcnow
from loyalty.models.messages import SECRET_PURPOSES, mask_secret
from loyalty.services import sms_allowance, sms_callbacks, sms_calls
from loyalty.services.webhooks import events as webhook_events
from loyalty.sms.base import mask_msisdn
from loyalty.sms.links import find_link
from loyalty.tenancy import tenant_context
from loyalty.unit_of_work import unit_of_work

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """A claimed text: what a call sends, and what its outcome is written for."""

    id: int
    recipient: str
    form: str
    body: str
    attempts: int
    purpose: str
    kind: str = MessageKind.TRANSACTIONAL
    merchant_id: int = 0
    sender_id: str | None = None  # the merchant's approved one for `kind`, else the platform's


# Outcomes are recorded with one statement per flush rather than one commit per text: under
# a backlog the commits per text were most of the cost of a text (bench/README.md).
# They are written at least this often (and at the end of every chunk): a worker that dies
# after the gateway accepted a text but before its outcome was written sends it again once
# its claim runs out, so this bounds how much could go out twice.
FLUSH_SECONDS = 1.0


class LinkCheck:
    """A text with a link goes out only for a merchant with an active production channel
    (sms_allowance.py). Asked once per send and merchant, and only when a text has a link."""

    def __init__(self, merchant_id: int) -> None:
        self.merchant_id = merchant_id
        self.production: bool | None = None

    def refused(self, body: str) -> str | None:
        link = find_link(body)
        if link is None:
            return None
        if self.production is None:
            # a short read of its own: sending holds no transaction
            with tenant_context(self.merchant_id), unit_of_work():
                self.production = sms_allowance.current_allowance().production
        return None if self.production else sms_allowance.link_refusal(link)


NO_OUTCOME = {"m_provider": None, "m_sent_at": None, "m_error": None, "m_reason": None,
              "m_cost": None}
# Africa's Talking's answer for a subscriber who blocked the sender (SMS.md 3.1, 3.4): the
# customer is opted out, as for a delivery report saying UserInBlackList.
BLACKLISTED = "406"


def outcome_of(answer: sms_calls.Answer, *, final_attempt: bool) -> dict:
    """One call's outcome as the parameters of db.sms.RECORD (not yet written), with
    `code` for the metrics and the flags the sender acts on."""
    outgoing = answer.item
    outcome = {**NO_OUTCOME, "m_id": outgoing.id}
    if answer.unavailable is not None:
        exc = answer.unavailable
        outcome.update(m_error=f"SMS gateway unavailable: {exc}", unavailable=True,
                       code=exc.code,
                       m_status=SmsStatus.FAILED if final_attempt else SmsStatus.QUEUED)
        log.info("SMS %s to %s: gateway unavailable", outgoing.id, mask_msisdn(outgoing.recipient))
        return outcome
    result = answer.result
    outcome["code"] = result.code or result.status
    if result.status == "sent":
        outcome.update(m_status=SmsStatus.SENT, m_provider=result.provider_message_id,
                       m_sent_at=utcnow(), m_cost=result.cost)
    elif result.out_of_credit:
        outcome.update(m_error=result.error, out_of_credit=True)
    else:
        again = result.retryable and not final_attempt
        outcome.update(m_status=SmsStatus.QUEUED if again else SmsStatus.FAILED,
                       m_error=result.error)
    log.debug("SMS %s to %s: %s", outgoing.id, mask_msisdn(outgoing.recipient), result.status)
    return outcome


def no_answer(outgoing: Outgoing, final_attempt: bool) -> dict:
    """A call still unanswered when the claim is nearly over: counted as a timeout."""
    return {**NO_OUTCOME, "m_id": outgoing.id,
            "m_status": SmsStatus.FAILED if final_attempt else SmsStatus.QUEUED,
            "m_error": "SMS gateway unavailable: no answer before the claim ran out "
                       "(the message may have been sent)"}


class Outcomes:
    """One merchant's outcomes waiting to be written, with one statement (one commit) per
    flush, as that merchant. Core, so each names the merchant itself, as tenancy.py would
    add to an ORM statement."""

    def __init__(self, merchant_id: int) -> None:
        self.merchant_id = merchant_id
        self.pending: list[dict] = []
        self.released: list[int] = []
        self.masked: list[dict] = []  # texts whose body held a secret, now sent or given up
        self.blacklisted: list[int] = []  # refused 406 UserInBlacklist: opt their customers out
        self.held: list[dict] = []  # promotional texts outside their window: back, held
        self.flushed_at = time.monotonic()
        self.sent = 0
        self.size = current_app.config["SMS_CHUNK_SIZE"]

    def add(self, outcome: dict, outgoing: Outgoing, *, code: str | None = None) -> None:
        self.pending.append(outcome)
        self.sent += outcome["m_status"] == SmsStatus.SENT
        status = "retry" if outcome["m_status"] == SmsStatus.QUEUED else str(outcome["m_status"])
        metrics.SMS.labels(status=status, code=code or "none").inc()
        if outcome["m_status"] == SmsStatus.FAILED and (
                code == BLACKLISTED or (outcome.get("m_error") or "").startswith(BLACKLISTED)):
            self.blacklisted.append(outgoing.id)
        if outgoing.purpose in SECRET_PURPOSES and outcome["m_status"] != SmsStatus.QUEUED:
            self.masked.append({"k_id": outgoing.id, "k_body": mask_secret(outgoing.body)})

    def release(self, message_ids: list[int]) -> None:
        self.released += message_ids
        if message_ids:
            metrics.SMS.labels(status="released", code="none").inc(len(message_ids))

    def hold(self, message_id: int, until) -> None:
        self.held.append({"h_id": message_id, "h_until": until})

    def flush_if_due(self) -> None:
        if len(self.pending) >= self.size or time.monotonic() - self.flushed_at >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.flushed_at = time.monotonic()
        if not (self.pending or self.released or self.held):
            return
        with tenant_context(self.merchant_id):
            self._write()

    def _write(self) -> None:
        merchant, now = self.merchant_id, utcnow()
        rows = [{"m_merchant": merchant, "m_now": now,
                 **{k: v for k, v in outcome.items() if k.startswith("m_")}}
                for outcome in self.pending]
        masked = [{**one, "k_merchant": merchant} for one in self.masked]
        released, self.pending, self.released, self.masked = self.released, [], [], []
        blacklisted, self.blacklisted = self.blacklisted, []
        held, self.held = [{**one, "h_merchant": merchant} for one in self.held], []
        # Its own transaction: these outcomes are durable before the next flush. Repeated
        # only when its connection was found dropped, which at worst counts attempts twice.
        with unit_of_work():
            # The merchant's webhooks (sms.delivery_failed) first: writing them begins the
            # transaction the outcomes then join, so both commit together.
            webhook_events.sms_failed({r["m_id"]: r["m_error"] for r in rows
                                       if r["m_status"] == SmsStatus.FAILED})
            if rows and db.session().get_bind().dialect.name == "postgresql":
                execute_alone(statements.RECORD_ALL, {
                    "merchant": merchant, "now": now, "id": [r["m_id"] for r in rows],
                    **{name: [r["m_" + name] for r in rows]
                       for name in ("status", "error", "reason", "provider", "sent_at", "cost")}})
            elif rows:
                execute_alone(statements.RECORD, rows)
            if released:  # not attempted: back to the queue at once, attempts unchanged
                execute_alone(statements.RELEASE, {"r_ids": released, "r_merchant": merchant})
            if masked:
                execute_alone(statements.MASK, masked)
            if held:
                execute_alone(statements.HOLD, held)
        if blacklisted:  # after the outcomes: opting out cancels what is still queued
            with unit_of_work():
                sms_callbacks.opt_out_blacklisted(blacklisted)
