"""Daraja requests whose answer comes later: Account Balance, Transaction Status, Reversal.

Safaricom acknowledges such a request at once with an OriginatorConversationID and a
ConversationID, and POSTs the result to our ResultURL later (DARAJA.md 8-10). The ids are
stored here when asking, so the result is matched to what asked for it and handled by the
handler of its kind (services/async_results.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.db.ddl import partial
from loyalty.extensions import db
from loyalty.models.base import TimestampMixin, UTCDateTime, enum_column
from loyalty.tenancy import TenantScoped


class AsyncKind(StrEnum):
    """What was asked; also the last part of the result URL (/hooks/<token>/result/<kind>)."""

    BALANCE = "balance"    # Account Balance, asked when a channel is verified
    STATUS = "status"      # Transaction Status, for the receipt of an STK success
    REVERSAL = "reversal"  # the Reversal API (issue 13, reversals)


class AsyncState(StrEnum):
    PENDING = "pending"      # acknowledged, no result yet
    DONE = "done"            # a result with ResultCode 0
    FAILED = "failed"        # a result with another ResultCode
    TIMED_OUT = "timed_out"  # Safaricom's queue timed out (the QueueTimeOutURL notice)


class AsyncRequest(TenantScoped, TimestampMixin, db.Model):
    __tablename__ = "async_requests"
    __table_args__ = (
        sa.Index("ix_async_requests_conversation", "conversation_id"),
        sa.Index("ix_async_requests_originator", "originator_conversation_id"),
        # Beat's sweep for requests no answer will come for reads only these.
        sa.Index("ix_async_requests_pending", "id", **partial("state = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(sa.ForeignKey("mpesa_channels.id"))
    kind: Mapped[AsyncKind] = mapped_column(enum_column(AsyncKind))
    originator_conversation_id: Mapped[str | None] = mapped_column(sa.String(64))
    conversation_id: Mapped[str | None] = mapped_column(sa.String(64))
    # What the request is about, when anything: the STK push whose receipt is asked for,
    # the payment being reversed and the reversal asking for it.
    payment_request_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("payment_requests.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"), index=True)
    reversal_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reversals.id"), index=True)
    # A request recorded before it is sent (the reversal): the worker's claim, committed
    # before it calls Safaricom, so a redelivered task never sends it twice.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[AsyncState] = mapped_column(enum_column(AsyncState),
                                              default=AsyncState.PENDING)
    result_code: Mapped[str | None] = mapped_column(sa.String(20))
    result_desc: Mapped[str | None] = mapped_column(sa.Text)
    # ResultParameters as Key -> Value (what the handler read it from).
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
