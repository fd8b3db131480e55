"""Reversals of payments: asked of Safaricom (the Reversal API) or recorded after the fact."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.daraja.results import reversal_outcome
from loyalty.db.ddl import partial
from loyalty.extensions import db
from loyalty.models.base import TimestampMixin, UTCDateTime, enum_column, money
from loyalty.tenancy import TenantScoped

SUPERSEDED = "Superseded: the merchant marked the payment as reversed."
SUPERSEDED_BY_RESULT = ("Superseded: M-Pesa's late result says an earlier request reversed "
                        "this payment.")
# Safaricom's queue gave up (the QueueTimeOutURL notice). No Safaricom code goes with it;
# this text is also how a late result recognises a reversal it may still complete.
QUEUE_TIMED_OUT = ("M-Pesa's queue timed out before it processed the reversal, so nothing was "
                   "taken back. Check the M-PESA statement: if the money went back after all, "
                   "mark the payment as reversed; if not, reverse it again. Should M-Pesa's "
                   "result still say the money went back, the points are taken back then.")

# No answer ever came (async_results.give_up_unanswered): the worker sending the request
# stopped before Safaricom acknowledged it, or no result and no timeout followed. Like
# QUEUE_TIMED_OUT, it is how a late result recognises a reversal it may still complete.
NO_ANSWER = ("M-Pesa never answered the reversal request, so nothing was taken back. Check the "
             "M-PESA statement: if the money went back, mark the payment as reversed; if not, "
             "reverse it again. Should M-Pesa's result still say the money went back, the "
             "points are taken back then.")
# Reasons a reversal failed without an answer from M-Pesa: a late result still counts.
GAVE_UP = (QUEUE_TIMED_OUT, NO_ANSWER)


class ReversalMethod(StrEnum):
    MPESA = "mpesa"    # we asked Safaricom's Reversal API; its result decides
    MANUAL = "manual"  # done elsewhere (customer care, the M-PESA org portal) and recorded


class ReversalState(StrEnum):
    REQUESTED = "requested"  # sent to (or about to be sent to) Safaricom, no result yet
    DONE = "done"            # the money went back; the points were taken back
    FAILED = "failed"        # Safaricom refused or could not do it; nothing was taken back


class Reversal(TenantScoped, TimestampMixin, db.Model):
    """One attempt to reverse a payment. A payment has at most one that is not `failed`
    (so it is reversed, and its points taken back, once); a failed one can be tried again."""

    __tablename__ = "reversals"
    merchant_index = False  # the unique constraint leads with merchant_id
    __table_args__ = (
        sa.UniqueConstraint("merchant_id", "idempotency_key"),
        sa.Index("uq_reversals_payment_open", "payment_id", unique=True,
                 **partial("state <> 'failed'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments.id"))
    method: Mapped[ReversalMethod] = mapped_column(enum_column(ReversalMethod))
    state: Mapped[ReversalState] = mapped_column(enum_column(ReversalState),
                                                 default=ReversalState.REQUESTED)
    amount: Mapped[Decimal] = mapped_column(money())
    reason: Mapped[str] = mapped_column(sa.String(100))
    idempotency_key: Mapped[str] = mapped_column(sa.String(100))
    # What the claw-back took back: points (a positive count) and the payment's stamp.
    points: Mapped[int] = mapped_column(default=0)
    stamps: Mapped[int] = mapped_column(default=0)
    result_code: Mapped[str | None] = mapped_column(sa.String(20))
    result_desc: Mapped[str | None] = mapped_column(sa.Text)
    # The reversal's own M-Pesa receipt (the result envelope's TransactionID).
    receipt: Mapped[str | None] = mapped_column(sa.String(32))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def message(self) -> str:
        """Where the reversal stands, in the merchant's words."""
        if self.state == ReversalState.REQUESTED:
            return "Waiting for M-Pesa's result; the points are taken back once it confirms."
        if self.state == ReversalState.DONE:
            taken = f"{self.points:,} points" + (" and a stamp" if self.stamps else "")
            if self.method == ReversalMethod.MANUAL:
                return f"Recorded as reversed elsewhere; {taken} taken back."
            return f"M-Pesa sent the money back; {taken} taken back."
        return reversal_outcome(self.result_code) or self.result_desc or "Not reversed."
