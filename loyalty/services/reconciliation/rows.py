"""Pulled rows as payments: pure rules, no database (DARAJA.md 17).

A recovered row is stored like a confirmation would have been (the same columns, source
`pull`), with what Pull lacks left empty: no names, no balance, no invoice number. Two
things need care. The payer's number arrives in a form nobody has pinned down (the doc's
sample is a bare number), so it is read as a phone when it is one and kept as masked
otherwise. And `trxDate` values ending in `Z` have been seen carrying Nairobi wall-clock
time: the zone is trusted only until receipts we already hold say otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from loyalty.daraja.pull import PulledPayment
from loyalty.models import PaymentSource
from loyalty.phones import InvalidPhone, MsisdnForm, classify_msisdn, normalise_msisdn

NAIROBI_OFFSET = timedelta(hours=3)
TOLERANCE = timedelta(minutes=2)


def payer(msisdn: str) -> tuple[str | None, str]:
    """(the number as stored, its form): a hash or a 254… number as sent, any other way of
    writing a Kenyan mobile number as 254…, anything else masked."""
    text = (msisdn or "").strip()
    if not text:
        return None, MsisdnForm.MASKED.value
    form = classify_msisdn(text)
    if form == MsisdnForm.MASKED:
        try:
            return normalise_msisdn(text), MsisdnForm.PLAIN.value
        except InvalidPhone:
            pass
    return text, form.value


@dataclass
class ZoneGuess:
    """Whether this run's `Z` times are UTC (shift 0) or Nairobi time marked as UTC (shift
    -3 h), learnt from receipts we hold with their confirmation's time; None until a held
    receipt has told, and then the zone is trusted."""

    shift: timedelta | None = None

    def learn(self, pulled: list[PulledPayment], held: dict[str, datetime]) -> None:
        if self.shift is not None:
            return
        utc = eat = 0
        for row in pulled:
            stored = held.get(row.trans_id)
            if stored is None or not row.utc_marked:
                continue
            difference = row.trans_time - stored
            if abs(difference) <= TOLERANCE:
                utc += 1
            elif abs(difference - NAIROBI_OFFSET) <= TOLERANCE:
                eat += 1
        if utc or eat:
            self.shift = -NAIROBI_OFFSET if eat > utc else timedelta(0)

    def time_of(self, row: PulledPayment) -> datetime:
        if row.utc_marked and self.shift:
            return row.trans_time + self.shift
        return row.trans_time


def payment_values(row: PulledPayment, channel_id: int, trans_time: datetime) -> dict[str, Any]:
    """The payments row for a recovered receipt (insert_ignore's values)."""
    msisdn, form = payer(row.msisdn)
    return {
        "channel_id": channel_id, "trans_id": row.trans_id, "source": PaymentSource.PULL,
        "trans_type": row.transaction_type[:60], "trans_time": trans_time, "amount": row.amount,
        "bill_ref": row.bill_ref or None, "msisdn": msisdn, "msisdn_form": form,
        "payload": row.raw,
    }


def page_signature(rows: list[Any]) -> tuple[str, ...]:
    """What identifies a page, to notice Safaricom sending the same page twice."""
    return tuple(str(row["transactionId"]) if isinstance(row, dict) and row.get("transactionId")
                 else json.dumps(row, sort_keys=True, default=str) for row in rows)
