"""Loyalty programs, referenced by their per-merchant `code`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.db.ddl import partial
from loyalty.extensions import db
from loyalty.models.base import TimestampMixin, money
from loyalty.tenancy import TenantScoped

DEFAULT_PROGRAM_CODE = "loyalty"


class LoyaltyProgram(TenantScoped, TimestampMixin, db.Model):
    __tablename__ = "loyalty_programs"
    __table_args__ = (
        sa.UniqueConstraint("merchant_id", "code"),
        # At most one default program per merchant, enforced by the database.
        sa.Index(
            "uq_loyalty_programs_one_default",
            "merchant_id",
            unique=True,
            **partial("is_default"),
        ),
        sa.CheckConstraint("points_per_unit >= 0", name="points_per_unit_not_negative"),
        sa.CheckConstraint("unit_amount > 0", name="unit_amount_positive"),
        sa.CheckConstraint("multiplier >= 0", name="multiplier_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(100))
    points_per_unit: Mapped[int] = mapped_column(default=1)
    unit_amount: Mapped[Decimal] = mapped_column(money(), default=Decimal("100"))
    multiplier: Mapped[Decimal] = mapped_column(sa.Numeric(8, 2), default=Decimal("1"))
    min_amount: Mapped[Decimal] = mapped_column(money(), default=Decimal("0"))
    stamps_required: Mapped[int | None] = mapped_column()
    stamp_reward: Mapped[str | None] = mapped_column(sa.String(100))
    points_expiry_days: Mapped[int | None] = mapped_column()
    sms_template: Mapped[str | None] = mapped_column(sa.Text)
    # The text sent the moment a stamp card completes (DEFAULT_REWARD_TEMPLATE when unset).
    reward_template: Mapped[str | None] = mapped_column(sa.Text)
    # Text the customer when a payment of theirs is reversed and its points taken back.
    sms_on_reversal: Mapped[bool] = mapped_column(default=False)
    # Texts in other languages, {"sw": {"earn": ..., "reward": ...}}, set by setup templates
    # and exported with them; a customer texted in that language gets them (rules.py), and
    # the English columns above where a translation is missing.
    sms_translations: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    is_default: Mapped[bool] = mapped_column(default=False)
