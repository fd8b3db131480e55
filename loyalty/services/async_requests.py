"""Remembering what we asked Safaricom, so an async result finds what asked for it.

Account Balance, Transaction Status and Reversal answer at once with an
OriginatorConversationID and a ConversationID and POST the result later (DARAJA.md 10):
`record` stores the ids when asking, `find` matches a result back by either one. A request
may also be recorded before it is sent (`open_request`, the reversal): its result URL then names the
row, `find` matches by that too, and the worker `claim`s the row before it calls Safaricom
and records the ids with `acknowledged`. Handling the result is async_results.py's (one
handler per kind). A request nobody will ever answer (its worker died after the claim; or
Safaricom acknowledged it and never sent a result or a timeout) is found by `unanswered`
and given up by beat (async_results.give_up).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from loyalty.daraja.callbacks import AsyncResult
from loyalty.daraja.results import AsyncAccepted
from loyalty.extensions import db
from loyalty.models import AsyncKind, AsyncRequest, AsyncState
from loyalty.models.base import utcnow
from loyalty.tenancy import all_merchants


def record(kind: AsyncKind, channel_id: int, accepted: AsyncAccepted, *,
           payment_request_id: int | None = None,
           payment_id: int | None = None) -> AsyncRequest:
    """Store the ids Safaricom acknowledged a request with (current merchant)."""
    asked = AsyncRequest(kind=kind, channel_id=channel_id,
                         originator_conversation_id=accepted.originator_conversation_id,
                         conversation_id=accepted.conversation_id,
                         payment_request_id=payment_request_id, payment_id=payment_id)
    db.session.add(asked)
    db.session.flush()
    return asked


class ResultMismatch(Exception):
    """Raised by a handler: the result names something else than its request (another
    receipt), so the request keeps waiting for its own result. The message is the note."""


def open_request(kind: AsyncKind, channel_id: int, **about: int) -> AsyncRequest:
    """A request recorded before it is sent (current merchant): pending, no ids yet."""
    asked = AsyncRequest(kind=kind, channel_id=channel_id, **about)
    db.session.add(asked)
    db.session.flush()
    return asked


def claim(kind: AsyncKind, **about: int) -> AsyncRequest | None:
    """Worker: lock the opened request of `kind` about this (`reversal_id=…`) and claim it
    for sending; None when it was claimed before (a redelivered task) or answered already.
    The caller commits the claim before calling Safaricom: no transaction stays open over
    the call, and the lock makes two deliveries of one task take turns."""
    query = (sa.select(AsyncRequest).where(AsyncRequest.kind == kind).with_for_update()
             .execution_options(populate_existing=True))
    for name, value in about.items():
        query = query.where(getattr(AsyncRequest, name) == value)
    asked = db.session.scalars(query.order_by(AsyncRequest.id.desc()).limit(1)).first()
    if asked is None or asked.sent_at is not None or asked.state != AsyncState.PENDING:
        return None
    asked.sent_at = utcnow()
    return asked


def release(asked: AsyncRequest) -> None:
    """The request did not reach Safaricom (it was unreachable): a retry may send it."""
    asked.sent_at = None


def acknowledged(asked: AsyncRequest, accepted: AsyncAccepted) -> None:
    """Safaricom queued the request: keep the ids its result will carry (a result that
    came first, by the id in its URL, may have recorded them already)."""
    asked.originator_conversation_id = (asked.originator_conversation_id
                                        or accepted.originator_conversation_id)
    asked.conversation_id = asked.conversation_id or accepted.conversation_id


def refused(asked: AsyncRequest, code: str | None, message: str) -> None:
    """Safaricom refused the request when it was sent (or it never was): no result comes."""
    asked.state, asked.result_code, asked.result_desc = AsyncState.FAILED, code, message
    asked.finished_at = utcnow()


def find(channel_id: int, conversation_id: str, originator_id: str, *,
         kind: AsyncKind | None = None, ref: int | None = None) -> AsyncRequest | None:
    """The request of this channel (current merchant) a result answers, locked: by the
    ConversationID, else the OriginatorConversationID (either may be missing), else by
    `ref`, the request id its result URL names (only among the channel's requests of
    `kind`). The ids come first: Safaricom's are unique, and a URL may name a row of
    another numbering (a reversal's id, in URLs sent before revision 0015)."""
    ids = []
    if conversation_id:
        ids.append(AsyncRequest.conversation_id == conversation_id)
    if originator_id:
        ids.append(AsyncRequest.originator_conversation_id == originator_id)
    query = (sa.select(AsyncRequest).where(AsyncRequest.channel_id == channel_id)
             .order_by(AsyncRequest.id.desc()).limit(1).with_for_update()
             .execution_options(populate_existing=True))
    found = db.session.scalars(query.where(sa.or_(*ids))).first() if ids else None
    if found is None and ref is not None and kind is not None:
        found = db.session.scalars(query.where(AsyncRequest.id == ref,
                                               AsyncRequest.kind == kind)).first()
    return found


def finish(asked: AsyncRequest, result: AsyncResult) -> None:
    """Record a result on its request: done on ResultCode 0, failed otherwise."""
    asked.state = AsyncState.DONE if result.succeeded else AsyncState.FAILED
    asked.result_code, asked.result_desc = result.result_code, result.result_desc
    asked.result = result.parameters
    asked.finished_at = utcnow()


def count(kind: AsyncKind, *, payment_request_id: int) -> tuple[int, int]:
    """(how many, how many still pending) of `kind` were asked about an STK push."""
    rows = db.session.execute(
        sa.select(AsyncRequest.state, sa.func.count()).where(
            AsyncRequest.kind == kind, AsyncRequest.payment_request_id == payment_request_id)
        .group_by(AsyncRequest.state)).all()
    return (sum(n for _, n in rows),
            sum(n for state, n in rows if state == AsyncState.PENDING))


def newer_exists(asked: AsyncRequest) -> bool:
    """Whether the same channel asked the same kind again since `asked`."""
    return db.session.scalar(sa.select(sa.exists().where(
        AsyncRequest.channel_id == asked.channel_id, AsyncRequest.kind == asked.kind,
        AsyncRequest.id > asked.id))) is True


def unanswered(*, unacknowledged_before: datetime, unanswered_before: datetime,
               limit: int) -> list[tuple[int, int]]:
    """(merchant id, request id) of every merchant's pending requests no answer will come
    for: never acknowledged (no ConversationID: claimed by a worker that died before
    Safaricom answered, or never sent) since `unacknowledged_before`, or acknowledged and
    neither answered nor timed out since `unanswered_before`. Oldest first."""
    since = sa.func.coalesce(AsyncRequest.sent_at, AsyncRequest.created_at)
    acknowledged_ = sa.or_(AsyncRequest.conversation_id.is_not(None),
                           AsyncRequest.originator_conversation_id.is_not(None))
    with all_merchants():
        rows = db.session.execute(
            sa.select(AsyncRequest.merchant_id, AsyncRequest.id)
            .where(AsyncRequest.state == AsyncState.PENDING,
                   sa.or_(sa.and_(~acknowledged_, since < unacknowledged_before),
                          sa.and_(acknowledged_, since < unanswered_before)))
            .order_by(AsyncRequest.id).limit(limit)).all()
    return [(merchant_id, request_id) for merchant_id, request_id in rows]


def locked(request_id: int) -> AsyncRequest | None:
    """The request (current merchant), locked and read afresh."""
    return db.session.scalar(sa.select(AsyncRequest).where(AsyncRequest.id == request_id)
                             .with_for_update().execution_options(populate_existing=True))
