"""Applies of setup templates: the idempotency record, and which resources a template owns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.extensions import db
from loyalty.models.base import UTCDateTime, utcnow
from loyalty.tenancy import TenantScoped


class SetupApply(TenantScoped, db.Model):
    """One successful apply. The same idempotency key with the same request replays
    `result`; `resources` (natural keys such as `program:vip`) are what this template made
    or adopted, so a later apply of it updates them instead of reporting a conflict."""

    __tablename__ = "setup_applies"
    merchant_index = False  # the unique constraint leads with merchant_id
    __table_args__ = (sa.UniqueConstraint("merchant_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(100))
    template_key: Mapped[str] = mapped_column(sa.String(40))
    version: Mapped[int] = mapped_column()
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    resources: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    result: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
