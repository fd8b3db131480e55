"""Request bodies for Daraja, built and checked without any I/O (DARAJA.md 4, 6, 8, 9, 16).

Field shapes follow the documented samples: STK push and C2B simulate send numeric fields
as JSON numbers; URL registration, balance and status send shortcodes as strings.
Anything Safaricom would refuse for a reason we can see is refused here as InvalidRequest,
before a network round trip (and, for STK, before a customer's phone can ring).
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loyalty.daraja.errors import InvalidRequest
from loyalty.phones import InvalidPhone, normalise_msisdn

try:
    EAT = ZoneInfo("Africa/Nairobi")
except ZoneInfoNotFoundError:  # pragma: no cover - a slim image without tzdata
    # Kenya has kept UTC+3 without daylight saving since 1942, so a fixed offset is exact.
    EAT = timezone(timedelta(hours=3), "EAT")

PAYBILL = "CustomerPayBillOnline"
BUY_GOODS = "CustomerBuyGoodsOnline"
RESPONSE_TYPES = ("Completed", "Cancelled")
C2B_VERSIONS = ("v1", "v2")

ACCOUNT_REFERENCE_MAX = 12  # longer references are refused (and bloat the prompt, 1025)
TRANSACTION_DESC_MAX = 13
REMARKS_MAX = 100

# Documented as 5-7 digits; one digit of slack so we never refuse a real one first.
_SHORTCODE = re.compile(r"^\d{5,8}$")


def eat_timestamp(now: datetime | None = None) -> str:
    """YYYYMMDDHHmmss in Africa/Nairobi, the form the STK Password and Timestamp share."""
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        # A naive time could be UTC or local; guessing would shift the stamp by 3 hours.
        raise ValueError("eat_timestamp needs a timezone-aware datetime")
    return now.astimezone(EAT).strftime("%Y%m%d%H%M%S")


def stk_password(business_shortcode: str, passkey: str, timestamp: str) -> str:
    """base64(BusinessShortCode + Passkey + Timestamp), plain string concatenation."""
    raw = f"{business_shortcode}{passkey}{timestamp}".encode()
    return base64.b64encode(raw).decode("ascii")


def stk_parties(channel_type: str, shortcode: str, store_number: str | None) -> tuple[str, str, str]:
    """(BusinessShortCode, PartyB, TransactionType) for a channel (DARAJA.md 6.2).

    A till pushes under the store (or head office) number it went live with and pays the
    till; using the till as BusinessShortCode fails with 2028 / SFC_IC0003.
    """
    kind = (channel_type or "").strip().lower()
    if kind == "paybill":
        return shortcode, shortcode, PAYBILL
    if kind in ("till", "buygoods"):
        store = (store_number or "").strip()
        if not store:
            raise InvalidRequest(
                "A Till (Buy Goods) channel needs its store or head-office number for "
                "M-Pesa Express: Safaricom uses it as the BusinessShortCode.",
                field="store_number")
        return store, shortcode, BUY_GOODS
    raise InvalidRequest(f"Unknown channel type {channel_type!r} (paybill, till or buygoods).",
                         field="channel_type")


def whole_shillings(amount: object, *, field: str = "amount") -> int:
    """A whole number of KES >= 1 as an int; floats are refused so money never is one."""
    if isinstance(amount, bool) or not isinstance(amount, (int, Decimal)):
        raise InvalidRequest("The amount must be a whole number of shillings (int or Decimal).",
                             field=field)
    if isinstance(amount, Decimal) and (not amount.is_finite() or amount != amount.to_integral_value()):
        raise InvalidRequest("M-Pesa only takes whole shillings: the amount has cents.",
                             field=field)
    value = int(amount)
    if value < 1:
        raise InvalidRequest("The amount must be at least 1 shilling.", field=field)
    return value


def shortcode_number(value: str, *, field: str) -> str:
    """A shortcode, till or store number as a string of digits (DARAJA.md 4.4, 6.6)."""
    text = str(value or "").strip()
    if not _SHORTCODE.match(text):
        raise InvalidRequest(f"{text!r} is not an M-Pesa shortcode (5 to 8 digits).", field=field)
    return text


def phone_number(value: str, *, field: str = "phone") -> str:
    try:
        return normalise_msisdn(value)
    except InvalidPhone as exc:
        raise InvalidRequest(str(exc), field=field) from None


def checked_account_reference(value: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidRequest("An account reference is required.", field="account_reference")
    if len(text) > ACCOUNT_REFERENCE_MAX:
        raise InvalidRequest(
            f"The account reference {text!r} is {len(text)} characters; M-Pesa Express "
            f"allows at most {ACCOUNT_REFERENCE_MAX}.", field="account_reference")
    return text


def transaction_desc(value: str | None) -> str:
    # Optional and shown to nobody who needs more than 13 characters: trim, never refuse.
    return (value or "").strip()[:TRANSACTION_DESC_MAX]


def stk_push_body(*, business_shortcode: str, passkey: str, party_b: str, transaction_type: str,
                  amount: object, phone: str, callback_url: str, account_reference: str,
                  description: str | None, timestamp: str) -> dict[str, Any]:
    """The processrequest body; raises InvalidRequest on anything Safaricom would refuse."""
    shortcode = shortcode_number(business_shortcode, field="business_shortcode")
    till_or_paybill = shortcode_number(party_b, field="party_b")
    if transaction_type not in (PAYBILL, BUY_GOODS):
        raise InvalidRequest(f"TransactionType must be {PAYBILL} or {BUY_GOODS}.",
                             field="transaction_type")
    if not passkey:
        raise InvalidRequest("The M-Pesa Express passkey is missing.", field="passkey")
    msisdn = phone_number(phone)
    return {
        "BusinessShortCode": int(shortcode),
        "Password": stk_password(shortcode, passkey, timestamp),
        "Timestamp": timestamp,
        "TransactionType": transaction_type,
        "Amount": whole_shillings(amount),
        "PartyA": int(msisdn),
        "PartyB": int(till_or_paybill),
        "PhoneNumber": int(msisdn),
        "CallBackURL": callback_url,
        "AccountReference": checked_account_reference(account_reference),
        "TransactionDesc": transaction_desc(description),
    }


def stk_query_body(*, business_shortcode: str, passkey: str, checkout_request_id: str,
                   timestamp: str) -> dict[str, Any]:
    shortcode = shortcode_number(business_shortcode, field="business_shortcode")
    if not passkey:
        raise InvalidRequest("The M-Pesa Express passkey is missing.", field="passkey")
    if not (checkout_request_id or "").strip():
        raise InvalidRequest("A CheckoutRequestID is required.", field="checkout_request_id")
    return {
        "BusinessShortCode": int(shortcode),
        "Password": stk_password(shortcode, passkey, timestamp),
        "Timestamp": timestamp,
        "CheckoutRequestID": checkout_request_id.strip(),
    }


def register_urls_body(*, shortcode: str, confirmation_url: str, validation_url: str,
                       response_type: str) -> dict[str, Any]:
    canonical = {name.lower(): name for name in RESPONSE_TYPES}.get((response_type or "").lower())
    if canonical is None:
        # Case matters to Safaricom ("Completed", not "completed" or "Complete").
        raise InvalidRequest("ResponseType must be Completed or Cancelled.", field="response_type")
    return {
        "ShortCode": shortcode_number(shortcode, field="shortcode"),
        "ResponseType": canonical,
        "ConfirmationURL": confirmation_url,
        "ValidationURL": validation_url,
    }


def c2b_simulate_body(*, shortcode: str, amount: object, msisdn: str, bill_ref: str | None,
                      command_id: str) -> dict[str, Any]:
    if command_id not in (PAYBILL, BUY_GOODS):
        raise InvalidRequest(f"CommandID must be {PAYBILL} or {BUY_GOODS}.", field="command_id")
    return {
        "ShortCode": int(shortcode_number(shortcode, field="shortcode")),
        "CommandID": command_id,
        "Amount": whole_shillings(amount),
        "Msisdn": int(phone_number(msisdn, field="msisdn")),  # sic: "Msisdn", not "MSISDN"
        "BillRefNumber": (bill_ref or "").strip() or None,  # null for Buy Goods
    }


def pull_register_body(*, shortcode: str, nominated_number: str,
                       callback_url: str) -> dict[str, Any]:
    """Register a shortcode for Pull Transactions (DARAJA.md 4.8): the nominated number is
    a Safaricom phone of the organisation, never the shortcode."""
    return {
        "ShortCode": shortcode_number(shortcode, field="shortcode"),
        "RequestType": "Pull",
        "NominatedNumber": phone_number(nominated_number, field="nominated_number"),
        "CallBackURL": callback_url,
    }


PULL_DATE = "%Y-%m-%d %H:%M:%S"  # Nairobi time, as the query's StartDate/EndDate


def pull_query_body(*, shortcode: str, start: datetime, end: datetime,
                    offset: int) -> dict[str, Any]:
    """One page of Pull Transactions: rows of [start, end], from row `offset` (a row
    offset, not a page number)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("pull_query_body needs timezone-aware datetimes")
    if end <= start:
        raise InvalidRequest("The end of the window must be after its start.", field="end")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidRequest("OffSetValue is a row offset: a whole number from 0.",
                             field="offset")
    return {
        "ShortCode": shortcode_number(shortcode, field="shortcode"),
        "StartDate": start.astimezone(EAT).strftime(PULL_DATE),
        "EndDate": end.astimezone(EAT).strftime(PULL_DATE),
        "OffSetValue": offset,  # "Numeric" in the doc's table (KJS: a string is refused)
    }


def account_balance_body(*, initiator: str, security_credential: str, party_a: str,
                         identifier_type: str, result_url: str, timeout_url: str,
                         remarks: str) -> dict[str, Any]:
    _initiator(initiator, security_credential)
    return {
        "Initiator": initiator,
        "SecurityCredential": security_credential,
        "CommandID": "AccountBalance",
        "PartyA": shortcode_number(party_a, field="party_a"),
        "IdentifierType": _identifier_type(identifier_type),
        "Remarks": _remarks(remarks, "Balance"),
        "QueueTimeOutURL": timeout_url,
        "ResultURL": result_url,
    }


def transaction_status_body(*, initiator: str, security_credential: str, transaction_id: str,
                            party_a: str, identifier_type: str, result_url: str,
                            timeout_url: str, remarks: str, occasion: str,
                            original_conversation_id: str = "") -> dict[str, Any]:
    """Ask by the receipt (TransactionID) or, when it is not known yet (an STK success
    seen only by a query), by the id of the original request (DARAJA.md 8, 17)."""
    _initiator(initiator, security_credential)
    receipt = (transaction_id or "").strip()
    original = (original_conversation_id or "").strip()
    if not (receipt or original):
        raise InvalidRequest("The M-Pesa receipt (TransactionID) or the original request's "
                             "id (OriginalConversationID) is required.", field="transaction_id")
    return {
        "Initiator": initiator,
        "SecurityCredential": security_credential,
        "CommandID": "TransactionStatusQuery",  # not "Command ID" as one doc sample has it
        "TransactionID": receipt,
        "OriginalConversationID": original,
        "PartyA": shortcode_number(party_a, field="party_a"),
        "IdentifierType": _identifier_type(identifier_type),
        "ResultURL": result_url,
        "QueueTimeOutURL": timeout_url,
        "Remarks": _remarks(remarks, "Status"),
        "Occasion": (occasion or "")[:REMARKS_MAX],
    }


def reversal_body(*, initiator: str, security_credential: str, transaction_id: str,
                  amount: object, receiver_party: str, result_url: str, timeout_url: str,
                  remarks: str, occasion: str = "") -> dict[str, Any]:
    """Reverse a C2B payment (DARAJA.md 16): the receipt, the whole shillings to send back,
    the shortcode that received it. Remarks are required (2-100 characters)."""
    _initiator(initiator, security_credential)
    if not (transaction_id or "").strip():
        raise InvalidRequest("The M-Pesa receipt to reverse (TransactionID) is required.",
                             field="transaction_id")
    text = (remarks or "").strip()[:REMARKS_MAX]
    if len(text) < 2:
        raise InvalidRequest("Say why the payment is reversed (2 to 100 characters).",
                             field="remarks")
    return {
        "Initiator": initiator,
        "SecurityCredential": security_credential,
        "CommandID": "TransactionReversal",
        "TransactionID": transaction_id.strip(),
        "Amount": str(whole_shillings(amount)),
        "ReceiverParty": shortcode_number(receiver_party, field="receiver_party"),
        "RecieverIdentifierType": "11",  # sic: Safaricom's spelling; 11 = organisation
        "ResultURL": result_url,
        "QueueTimeOutURL": timeout_url,
        "Remarks": text,
        "Occasion": (occasion or "")[:REMARKS_MAX],
    }


def _initiator(initiator: str, security_credential: str) -> None:
    if not (initiator or "").strip():
        raise InvalidRequest("The initiator (API operator) name is required.", field="initiator")
    if not security_credential:
        raise InvalidRequest("The security credential is missing.", field="security_credential")


def _identifier_type(value: str) -> str:
    # 1 = MSISDN, 2 = till, 4 = organisation shortcode (DARAJA.md 8).
    text = str(value).strip()
    if text not in ("1", "2", "4"):
        raise InvalidRequest("IdentifierType must be 1 (MSISDN), 2 (till) or 4 (shortcode).",
                             field="identifier_type")
    return text


def _remarks(value: str, default: str) -> str:
    # Safaricom refuses an empty Remarks; 100 characters is its limit.
    return ((value or "").strip() or default)[:REMARKS_MAX]
