"""What is waiting to be done, for operators (`/metrics`, docs/OPERATIONS.md)."""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.db.backlogs import BACKLOGS
from loyalty.extensions import db
from loyalty.models.base import utcnow
from loyalty.tenancy import all_merchants
from loyalty.unit_of_work import transactional


@dataclass(frozen=True)
class Backlogs:
    payments_waiting: int
    oldest_payment_seconds: float  # 0 when none waits
    texts_waiting: int
    oldest_text_seconds: float


@transactional
def backlogs() -> Backlogs:
    """Payments waiting for crediting and texts for sending, over every merchant."""
    with all_merchants():  # platform totals (the statement's docstring says why)
        rows = {row.kind: row for row in BACKLOGS.execute(db.session.connection(), {})}
    now = utcnow()

    def count(kind: str) -> tuple[int, float]:
        row = rows.get(kind)
        if row is None:
            return 0, 0.0
        return row.waiting, max(0.0, (now - row.oldest).total_seconds())

    payments, texts = count("payments"), count("texts")
    return Backlogs(payments[0], payments[1], texts[0], texts[1])
