"""Payments (one per M-Pesa receipt), STK push requests, and the raw callback log."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loyalty.db.ddl import partial
from loyalty.extensions import db
from loyalty.models.base import TimestampMixin, UTCDateTime, enum_column, money, utcnow
from loyalty.models.ledger import REWARD_PREFIX
from loyalty.tenancy import TenantScoped

if TYPE_CHECKING:
    from loyalty.models.ledger import LedgerEntry
    from loyalty.models.reversals import Reversal


class PaymentSource(StrEnum):
    C2B = "c2b"
    STK = "stk"
    PULL = "pull"  # recovered by reconciliation: the confirmation never reached us


class PaymentStatus(StrEnum):
    RECEIVED = "received"          # stored, waiting for a worker
    CREDITED = "credited"          # points or a stamp recorded in the ledger
    UNATTRIBUTED = "unattributed"  # masked payer: the merchant can attach it to a phone
    SKIPPED = "skipped"            # nothing to credit (below minimum, inactive channel…)
    FAILED = "failed"              # crediting raised; `error` says why, replay retries
    REVERSED = "reversed"          # the money went back to the payer; points taken back


class Payment(TenantScoped, TimestampMixin, db.Model):
    """One M-Pesa payment. C2B TransID and STK MpesaReceiptNumber are one namespace, so
    (merchant, trans_id) is unique: replays and the STK+C2B double delivery credit once."""

    __tablename__ = "payments"
    merchant_index = False  # the unique constraint leads with merchant_id
    __table_args__ = (
        sa.UniqueConstraint("merchant_id", "trans_id"),
        # The sweeper and the batch crediting look only at waiting payments.
        sa.Index("ix_payments_received", "id", **partial("status = 'received'")),
        sa.Index("ix_payments_channel_time", "channel_id", "trans_time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(sa.ForeignKey("mpesa_channels.id"))
    trans_id: Mapped[str] = mapped_column(sa.String(32))
    source: Mapped[PaymentSource] = mapped_column(enum_column(PaymentSource))
    trans_type: Mapped[str | None] = mapped_column(sa.String(60))
    trans_time: Mapped[datetime] = mapped_column(UTCDateTime())
    amount: Mapped[Decimal] = mapped_column(money())
    bill_ref: Mapped[str | None] = mapped_column(sa.String(40))
    msisdn: Mapped[str | None] = mapped_column(sa.String(80))
    msisdn_form: Mapped[str | None] = mapped_column(sa.String(10))
    first_name: Mapped[str | None] = mapped_column(sa.String(100))
    middle_name: Mapped[str | None] = mapped_column(sa.String(100))
    last_name: Mapped[str | None] = mapped_column(sa.String(100))
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    program_id: Mapped[int | None] = mapped_column(sa.ForeignKey("loyalty_programs.id"))
    matched_pattern: Mapped[str | None] = mapped_column(sa.String(40))
    points: Mapped[int] = mapped_column(default=0)
    status: Mapped[PaymentStatus] = mapped_column(enum_column(PaymentStatus),
                                                  default=PaymentStatus.RECEIVED)
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    credited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How much of `amount` went back to the payer (all of it, or part); None until then.
    reversed_amount: Mapped[Decimal | None] = mapped_column(money())
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)

    # Newest first. Loaded only where a payment is shown with its reversal (the API, the
    # payment's page), never by crediting.
    reversals: Mapped[list[Reversal]] = relationship(
        "Reversal", order_by="Reversal.id.desc()", viewonly=True, lazy="select")

    # What crediting wrote for it: read only where a payment is shown (its stamp and the
    # reward that stamp completed), never by crediting.
    ledger_entries: Mapped[list[LedgerEntry]] = relationship(
        "LedgerEntry", order_by="LedgerEntry.id", viewonly=True, lazy="select")

    @property
    def reversal(self) -> Reversal | None:
        """The latest reversal asked for or recorded, if any."""
        return self.reversals[0] if self.reversals else None

    def _stamp_entries(self) -> list[LedgerEntry]:
        return [entry for entry in self.ledger_entries if entry.kind == "stamp"]

    @property
    def stamps_earned(self) -> int:
        """Stamps the payment put on a card (0 or 1; a reversal's are on the reversal)."""
        return sum(entry.stamps for entry in self._stamp_entries())

    @property
    def reward_issued(self) -> str | None:
        """The reward the payment's stamp completed the card for, if it did."""
        for entry in self._stamp_entries():
            if (entry.description or "").startswith(REWARD_PREFIX):
                return entry.description[len(REWARD_PREFIX):]
        return None


class PaymentRequestStatus(StrEnum):
    """pending -> one of the others, once; a final state never changes (services/stk.py)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"  # the customer paid; `receipt` may come later (stk_receipts.py)
    FAILED = "failed"        # refused, rate-limited, wrong PIN, unreachable phone...
    CANCELLED = "cancelled"  # the customer cancelled the prompt (1032)
    EXPIRED = "expired"      # still pending 24 hours after the push (beat)


class PaymentRequest(TenantScoped, TimestampMixin, db.Model):
    """An STK push we sent; the callback carries no AccountReference, so we keep it here."""

    __tablename__ = "payment_requests"
    __table_args__ = (
        sa.UniqueConstraint("checkout_request_id"),
        # The beat sweep finds requests whose next follow-up is overdue (a lost countdown).
        sa.Index("ix_payment_requests_next_check", "next_check_at",
                 **partial("next_check_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(sa.ForeignKey("mpesa_channels.id"))
    phone: Mapped[str] = mapped_column(sa.String(12))
    amount: Mapped[Decimal] = mapped_column(money())
    account_reference: Mapped[str] = mapped_column(sa.String(12))
    checkout_request_id: Mapped[str | None] = mapped_column(sa.String(64))
    merchant_request_id: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[PaymentRequestStatus] = mapped_column(enum_column(PaymentRequestStatus),
                                                         default=PaymentRequestStatus.PENDING)
    result_code: Mapped[str | None] = mapped_column(sa.String(20))
    result_desc: Mapped[str | None] = mapped_column(sa.Text)
    receipt: Mapped[str | None] = mapped_column(sa.String(32))
    # The payment of the receipt (the STK callback's, a Transaction Status result's, or the
    # matching C2B/Pull row): the request is credited through it, once.
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"))
    # Follow-ups done so far: STK queries while pending, receipt look-ups after a success
    # known only from a query. A task for another step is a redelivery: it does nothing.
    query_step: Mapped[int] = mapped_column(default=0, server_default="0")
    receipt_step: Mapped[int] = mapped_column(default=0, server_default="0")
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CallbackOutcome(StrEnum):
    """Why a callback body is in the log instead of (or besides) the payments table."""

    REJECTED = "rejected"          # 400: not what Safaricom sends (the error says which field)
    REFUSED_IP = "refused_ip"      # 403: a known token from an address the policy refuses
    RESULT = "result"              # an async result (Account Balance, Transaction Status)
    STORE_FAILED = "store_failed"  # the database refused or failed; kept to be replayed
    DUPLICATE = "duplicate"        # a second or late STK callback of a settled push (200)
    UNKNOWN_TOKEN = "unknown_token"  # rows from before strangers stopped being stored


class CallbackLog(db.Model):
    """Callback bodies of known channels that could not become a payment: malformed or
    out-of-shape bodies, shortcode mismatches, refused source addresses, async results,
    payments the database failed to store. Stored before the error is answered. Bodies
    sent to unknown tokens are not kept (strangers store nothing); beat deletes rows after
    CALLBACK_LOG_RETENTION_DAYS. Not tenant-scoped: operators read it."""

    __tablename__ = "callback_log"
    # The merchant's own log, newest first (GET /callback-log, the web page).
    __table_args__ = (sa.Index("ix_callback_log_merchant", "merchant_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    token: Mapped[str | None] = mapped_column(sa.String(64))
    merchant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("merchants.id", ondelete="SET NULL"))
    channel_id: Mapped[int | None] = mapped_column(sa.ForeignKey("mpesa_channels.id",
                                                                 ondelete="SET NULL"))
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))
    body: Mapped[str] = mapped_column(sa.Text)
    status_code: Mapped[int] = mapped_column()
    error: Mapped[str | None] = mapped_column(sa.Text)
    outcome: Mapped[CallbackOutcome] = mapped_column(enum_column(CallbackOutcome))
    # The body's size as sent: more than len(body) when only its start was kept.
    body_bytes: Mapped[int | None] = mapped_column()
    # Set when the merchant replayed the body (POST /callback-log/{id}/replay): the payment
    # it produced. Replaying again finds the same payment (same receipt).
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id",
                                                                 ondelete="SET NULL"))
    # The request id the callback's URL named (`/result/<kind>/<id>`): a replayed async
    # result finds its request by it when Safaricom's ids cannot (none were recorded).
    request_ref: Mapped[int | None] = mapped_column()
