"""Pull Transactions, read defensively (DARAJA.md 4.8, 17): what Safaricom answers to the
register and query calls, and what each pulled row is.

The documented shapes disagree with themselves: the register answer spells its status
`ResponseStatus` in the sample and `Response Status` in the table; a query's rows arrive
nested one level deeper than expected (`Response: [[...]]`), and "no rows" comes back as
`[[]]`, `[]` or the string `"[[]]"`; `trxDate` carries `Z` or `+03:00` (or no zone at all);
`amount` is a string or a number, `msisdn` a number. Everything here accepts each of those
and turns a row into one of three things: a C2B payment we can store (`PulledPayment`), a
row that is not a customer payment (`IgnoredRow`: counted, never stored), or a row we
cannot read (`SkippedRow`, with the reason: counted, never guessed at).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty.daraja.payloads import EAT

REGISTERED = "1000"
ALREADY_REGISTERED = "1001"
ROWS_FOUND = "1000"
NO_ROWS = "1001"

# A C2B TransID (section 10 of DESIGN.md): 1-20 letters and digits.
_RECEIPT = re.compile(r"^[A-Za-z0-9]{1,20}$")
_STAMP = re.compile(r"^\d{14}$")
MAX_AMOUNT = Decimal("1000000")


@dataclass(frozen=True)
class PullRegistration:
    status: str  # "1000" registered now, "1001" registered before: both are success
    description: str
    response_ref_id: str | None

    @property
    def already_registered(self) -> bool:
        return self.status == ALREADY_REGISTERED


@dataclass(frozen=True)
class PullPage:
    """One page of a query: its rows as sent (flattened), in Safaricom's order."""

    response_code: str
    message: str
    response_ref_id: str | None
    rows: list[Any]


@dataclass(frozen=True)
class PulledPayment:
    """A customer's C2B payment to the shortcode, as Pull reports it."""

    trans_id: str
    trans_time: datetime  # aware UTC, read from trxDate
    utc_marked: bool  # trxDate said "Z" (sometimes really Nairobi time: DARAJA.md 17)
    amount: Decimal
    msisdn: str
    bill_ref: str
    transaction_type: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class IgnoredRow:
    """A readable row that is not a customer paying the shortcode (not C2B, not a debit)."""

    trans_id: str
    transaction_type: str


@dataclass(frozen=True)
class SkippedRow:
    """A row we cannot read well enough to store; `reason` is short and stable (it is
    counted per run), never a copy of the row."""

    reason: str


def status_of(data: dict[str, Any]) -> str:
    """The register answer's status, under either spelling of its key."""
    for key in ("ResponseStatus", "Response Status", "responseStatus", "ResponseCode"):
        value = data.get(key)
        if value not in (None, ""):
            return str(value).strip()
    return ""


def description_of(data: dict[str, Any]) -> str:
    for key in ("ResponseDescription", "Response Description", "ResponseMessage"):
        value = data.get(key)
        if value not in (None, ""):
            return str(value).strip()
    return ""


def rows_of(data: dict[str, Any]) -> list[Any]:
    """The rows of a query answer, flattened: `Response` (or `Transaction`, as the doc's
    no-rows example names it) may be `[[...]]`, `[...]`, `[[]]`, `[]`, the string "[[]]",
    or missing."""
    value = data.get("Response")
    if value is None:
        value = data.get("Transaction", data.get("Transactions"))
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError:
            return []
    if not isinstance(value, list):
        return []
    rows: list[Any] = []
    for item in value:
        if isinstance(item, list):
            rows.extend(item)
        else:
            rows.append(item)
    return rows


def classify(row: Any) -> PulledPayment | IgnoredRow | SkippedRow:
    """What a pulled row is. Only `c2b-…-debit` rows (the customer's account debited, the
    shortcode credited) become payments (DARAJA.md 17)."""
    if not isinstance(row, dict):
        return SkippedRow("not an object")
    trans_id = _text(row.get("transactionId") or row.get("TransactionId")
                     or row.get("transactionID"))
    if not trans_id:
        return SkippedRow("missing transactionId")
    if not _RECEIPT.match(trans_id):
        return SkippedRow("unreadable transactionId")
    kind = _text(row.get("transactiontype") or row.get("transactionType")).lower()
    if not kind:
        return SkippedRow("missing transactiontype")
    if not (kind.startswith("c2b-") and kind.endswith("-debit")):
        return IgnoredRow(trans_id=trans_id, transaction_type=kind)
    when = row.get("trxDate", row.get("transactionDate"))
    if when in (None, ""):
        return SkippedRow("missing trxDate")
    try:
        trans_time, utc_marked = read_trx_date(when)
    except ValueError:
        return SkippedRow("unreadable trxDate")
    amount = _amount(row.get("amount"))
    if isinstance(amount, SkippedRow):
        return amount
    return PulledPayment(
        trans_id=trans_id, trans_time=trans_time, utc_marked=utc_marked,
        amount=amount, msisdn=_text(row.get("msisdn")),
        bill_ref=_text(row.get("billreference") or row.get("billReference"))[:40],
        transaction_type=kind, raw=row)


def read_trx_date(value: Any) -> tuple[datetime, bool]:
    """(the moment in UTC, whether the text said "Z"). ISO with `Z` or an offset, ISO or
    `YYYY-MM-DD HH:MM[:SS]` without a zone (Nairobi time), or Daraja's YYYYMMDDHHmmss."""
    text = _text(value)
    if _STAMP.match(text):
        local = datetime.strptime(text, "%Y%m%d%H%M%S")
        return local.replace(tzinfo=EAT).astimezone(UTC), False
    utc_marked = text[-1:] in ("Z", "z")
    moment = datetime.fromisoformat(text[:-1] + "+00:00" if utc_marked else text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=EAT)
    return moment.astimezone(UTC), utc_marked


def _amount(value: Any) -> Decimal | SkippedRow:
    if value in (None, "") or isinstance(value, (bool, dict, list)):
        return SkippedRow("missing amount")
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        return SkippedRow("unreadable amount")
    if (not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT
            or amount != amount.quantize(Decimal("0.01"))):
        return SkippedRow("unreadable amount")
    return amount.quantize(Decimal("0.01"))


def _text(value: Any) -> str:
    """Numbers become their digits (msisdn 254712345678, not 254712345678.0)."""
    if value is None or isinstance(value, (bool, dict, list)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
