"""Remembering what we asked Safaricom, so an async result finds what asked for it.

Account Balance, Transaction Status and Reversal answer at once with an
OriginatorConversationID and a ConversationID and POST the result later (DARAJA.md 10):
`record` stores the ids when asking, `find` matches a result back by either one. Handling
the result is async_results.py's (one handler per kind).
"""

from __future__ import annotations

import sqlalchemy as sa

from loyalty.daraja.callbacks import AsyncResult
from loyalty.daraja.results import AsyncAccepted
from loyalty.extensions import db
from loyalty.models import AsyncKind, AsyncRequest, AsyncState
from loyalty.models.base import utcnow


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


def find(channel_id: int, conversation_id: str, originator_id: str) -> AsyncRequest | None:
    """The request of this channel (current merchant) a result answers, locked; by the
    ConversationID, else the OriginatorConversationID (either may be missing)."""
    ids = []
    if conversation_id:
        ids.append(AsyncRequest.conversation_id == conversation_id)
    if originator_id:
        ids.append(AsyncRequest.originator_conversation_id == originator_id)
    if not ids:
        return None
    return db.session.scalars(
        sa.select(AsyncRequest).where(AsyncRequest.channel_id == channel_id, sa.or_(*ids))
        .order_by(AsyncRequest.id.desc()).limit(1).with_for_update()).first()


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
