"""Pull Transactions (DARAJA.md 4.8): register a shortcode, then query its C2B payments.

The rows are the payments the emulator has completed, whether or not their confirmation
reached the platform, in the documented shape: lowercase keys, `trxDate` in UTC with a
`Z`, `msisdn` as a number, `amount` as a string, the list nested one level deeper than
expected. As at Safaricom only the last 48 hours are served, `OffSetValue` is a row
offset, and a shortcode must be registered before it can be queried.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from loyalty.emulator import rules
from loyalty.emulator.core import Emulator
from loyalty.emulator.errors import DarajaError, invalid
from loyalty.emulator.payloads import EAT
from loyalty.phones import InvalidPhone, normalise_msisdn

RETENTION_SECONDS = 48 * 3600
KINDS = {"CustomerPayBillOnline": "c2b-pay-bill-debit",
         "CustomerBuyGoodsOnline": "c2b-buy-goods-debit"}
# The doc's own samples: "2020-08-04 8:36:00", "2019-07-31 19:00", "2020-08-16 10:10:000".
_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2})(?::(\d{1,3}))?$")


def _invalid_shortcode() -> DarajaError:
    return DarajaError(400, "400.001", "Invalid ShortCode")


def register(emu: Emulator, grant: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    shortcode = rules.shortcode(rules.required(body, "ShortCode"))
    if grant["environment"] == "production" and shortcode not in grant["shortcodes"]:
        raise _invalid_shortcode()
    if rules.required(body, "RequestType") != "Pull":
        raise invalid("RequestType")
    try:
        nominated = normalise_msisdn(rules.required(body, "NominatedNumber"))
    except InvalidPhone:
        raise invalid("NominatedNumber") from None
    callback = rules.registration_url(rules.required(body, "CallBackURL"), "CallBackURL",
                                      public=emu.public_urls(grant))
    answer = {"ResponseRefID": str(uuid.uuid4()), "ShortCode": shortcode}
    if emu.state.pull_registration(shortcode) is not None:
        return {**answer, "ResponseStatus": "1001",
                "ResponseDescription": "ShortCode already Registered"}
    emu.state.save_pull_registration({
        "ShortCode": shortcode, "NominatedNumber": nominated, "CallBackURL": callback,
        "consumer_key": grant["consumer_key"], "registered_at": time.time()})
    return {**answer, "ResponseStatus": "1000",
            "ResponseDescription": "Shortcode Registered Successfully"}


def query(emu: Emulator, grant: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    shortcode = rules.shortcode(rules.required(body, "ShortCode"))
    if emu.state.pull_registration(shortcode) is None or (
            grant["environment"] == "production" and shortcode not in grant["shortcodes"]):
        raise _invalid_shortcode()
    start = _date(rules.required(body, "StartDate"), "StartDate")
    end = _date(rules.required(body, "EndDate"), "EndDate")
    offset = _offset(body.get("OffSetValue"))
    oldest = time.time() - RETENTION_SECONDS
    size = int(emu.state.settings()["pull_page_size"])
    rows = emu.state.pull_rows(shortcode, max(start, oldest), end, offset, size)
    answer = {"ResponseRefID": str(uuid.uuid4())}
    if not rows:
        return {**answer, "ResponseCode": "1001",
                "ResponseMessage": "No transactions available for the selected period",
                "Response": [[]]}
    return {**answer, "ResponseCode": "1000", "ResponseMessage": "Success", "Response": [rows]}


def record(emu: Emulator, shortcodes: list[str], *, receipt: str, command_id: str,
           amount: str, msisdn: str, bill_ref: str, first_name: str, trans_time: str) -> None:
    """A completed payment, as the shortcodes it reached will see it in Pull."""
    moment = datetime.strptime(trans_time, "%Y%m%d%H%M%S").replace(tzinfo=EAT)
    row = {
        "transactionId": receipt,
        "trxDate": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "msisdn": int(msisdn),
        "sender": first_name or "UNKNOWN",
        "transactiontype": KINDS.get(command_id, "c2b-pay-bill-debit"),
        "billreference": bill_ref if command_id == "CustomerPayBillOnline" else "",
        "amount": amount,
        "organizationname": "Emulated Merchant",
    }
    for shortcode in dict.fromkeys(shortcodes):
        emu.state.add_pull_rows(shortcode, [(moment.timestamp(), row)])


def _date(value: Any, field: str) -> float:
    """Epoch seconds of a `YYYY-MM-DD HH:MM[:SS]` Nairobi time."""
    match = _DATE.match(str(value).strip())
    if match is None:
        raise invalid(field)
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=EAT).timestamp()
    except ValueError:
        raise invalid(field) from None


def _offset(value: Any) -> int:
    text = str(value if value is not None else "").strip()
    if isinstance(value, bool) or not text.isdigit():
        raise invalid("OffSetValue")
    return int(text)
