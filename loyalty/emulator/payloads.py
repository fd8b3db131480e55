"""Identifiers, clocks and callback bodies shaped like Safaricom's (DARAJA.md 4.4, 6.4, 9, 10).

Pure functions: no store, no HTTP. The shapes copy captured payloads down to their quirks
(string amounts in C2B, numbers in STK metadata, `Balance` without a Value) because the
platform's parsers must be tested against what Safaricom really sends.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from loyalty.phones import hash_msisdn

# Safaricom stamps times in Kenyan local time (EAT, UTC+3, no daylight saving).
EAT = timezone(timedelta(hours=3), "EAT")
_ALNUM = string.ascii_uppercase + string.digits

STK_RESULTS: dict[str, tuple[int, str]] = {
    "success": (0, "The service request is processed successfully."),
    "cancel": (1032, "Request cancelled by user"),
    "timeout": (1037, "DS timeout user cannot be reached"),
    "insufficient": (1, "The balance is insufficient for the transaction."),
    "wrong_pin": (2001, "The initiator information is invalid."),
    # A success whose callback is lost, as the sandbox sometimes does: only STK Query tells.
    "silent": (0, "The service request is processed successfully."),
}


def eat_now() -> datetime:
    return datetime.now(EAT)


def stamp(moment: datetime | None = None) -> str:
    """YYYYMMDDHHmmss in EAT, the format of TransTime, Timestamp and TransactionDate."""
    return (moment or eat_now()).astimezone(EAT).strftime("%Y%m%d%H%M%S")


def new_receipt() -> str:
    """A 10-character receipt such as `RKTQDM7W6S` (real ones start with a letter)."""
    return secrets.choice(string.ascii_uppercase) + "".join(secrets.choice(_ALNUM) for _ in range(9))


def _digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


def new_request_id() -> str:
    return f"{_digits(5)}-{_digits(8)}-1"


def new_originator_id() -> str:
    return f"{_digits(4)}-{_digits(8)}-1"


def new_conversation_id() -> str:
    return f"AG_{stamp()[:8]}_{secrets.token_hex(10)}"


def new_merchant_request_id() -> str:
    return f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(8)}"


def new_checkout_request_id() -> str:
    return f"ws_CO_{eat_now().strftime('%d%m%Y%H%M%S')}{_digits(9)}"


def money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"


def msisdn_as(msisdn: str, form: str) -> str:
    """The payer number in the form C2B callbacks carry it (DARAJA.md 5): hashed by default."""
    if form == "plain":
        return msisdn
    if form == "masked":
        return f"{msisdn[:5]}****{msisdn[-3:]}"
    return hash_msisdn(msisdn)


def c2b_payload(*, trans_id: str, command_id: str, amount: Decimal, shortcode: str, bill_ref: str,
                msisdn: str, msisdn_form: str, first_name: str, middle_name: str, last_name: str,
                trans_time: str, org_balance: str = "", third_party_id: str = "") -> dict[str, Any]:
    buy_goods = command_id == "CustomerBuyGoodsOnline"
    return {
        "TransactionType": "Buy Goods" if buy_goods else "Pay Bill",
        "TransID": trans_id,
        "TransTime": trans_time,
        "TransAmount": money(amount),
        "BusinessShortCode": str(shortcode),
        "BillRefNumber": "" if buy_goods else bill_ref,
        "InvoiceNumber": "",
        "OrgAccountBalance": org_balance,
        "ThirdPartyTransID": third_party_id,
        "MSISDN": msisdn_as(msisdn, msisdn_form),
        "FirstName": first_name,
        "MiddleName": middle_name,
        "LastName": last_name,
    }


def stk_callback(stk: dict[str, Any]) -> dict[str, Any]:
    """`Body.stkCallback`; CallbackMetadata only on success (DARAJA.md 6.4)."""
    inner: dict[str, Any] = {
        "MerchantRequestID": stk["MerchantRequestID"],
        "CheckoutRequestID": stk["CheckoutRequestID"],
        "ResultCode": stk["ResultCode"],
        "ResultDesc": stk["ResultDesc"],
    }
    if stk["ResultCode"] == 0:
        inner["CallbackMetadata"] = {"Item": [
            {"Name": "Amount", "Value": float(Decimal(stk["Amount"]))},
            {"Name": "MpesaReceiptNumber", "Value": stk["MpesaReceiptNumber"]},
            {"Name": "Balance"},
            {"Name": "TransactionDate", "Value": int(stk["TransactionDate"])},
            {"Name": "PhoneNumber", "Value": int(stk["PhoneNumber"])},
        ]}
    return {"Body": {"stkCallback": inner}}


def result_envelope(*, code: int | str, desc: str, originator_id: str, conversation_id: str,
                    transaction_id: str, parameters: list[dict[str, Any]] | None,
                    reference: dict[str, Any]) -> dict[str, Any]:
    """The async Result body of Transaction Status, Account Balance and Reversal
    (DARAJA.md 10): numeric codes as numbers, `R000001`-style ones as strings."""
    result: dict[str, Any] = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": desc,
        "OriginatorConversationID": originator_id,
        "ConversationID": conversation_id,
        "TransactionID": transaction_id,
    }
    if parameters:
        result["ResultParameters"] = {"ResultParameter": parameters}
    result["ReferenceData"] = {"ReferenceItem": reference}
    return {"Result": result}


def balance_string(collections: Decimal, kind: str) -> str:
    """`Name|Currency|available|uncleared|reserved|n4` joined by `&` (DARAJA.md 9)."""
    collected = "Merchant Account" if kind == "store" else "Utility Account"
    zero = "0.00|0.00|0.00|0.00"
    value = money(collections)
    return "&".join([
        f"Working Account|KES|{zero}",
        f"{collected}|KES|{value}|{value}|0.00|0.00",
        f"Charges Paid Account|KES|{zero}",
        f"Organization Settlement Account|KES|{zero}",
    ])
