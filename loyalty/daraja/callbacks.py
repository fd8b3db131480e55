"""Pure parsers for what Safaricom POSTs to us (DARAJA.md 4.4, 6.4, 10, 16).

Safaricom's payloads drift between samples: numbers arrive as strings or JSON numbers,
lists arrive as single objects, `Value` goes missing. These parsers accept every shape seen
in the documented samples and refuse anything else with CallbackParseError naming the
field, so the hook can answer 400 and keep the raw body for a person to look at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty.daraja.payloads import EAT

_STAMP = re.compile(r"^\d{14}$")
_BALANCE_COLUMNS = ("available", "uncleared", "reserved", "unlabelled")
# Daraja's shapes (DARAJA.md 4.4): a receipt is 10 letters and digits today; 20 leaves
# room without letting a stranger's kilobyte of text into the payments table.
_RECEIPT = re.compile(r"^[A-Za-z0-9]{1,20}$")
_SHORTCODE = re.compile(r"^\d{1,12}$")
MAX_AMOUNT = Decimal("1000000")  # KES; far above M-Pesa's own per-transaction limit
_CENT = Decimal("0.01")
MAX_BILL_REF = 20  # the account number the customer typed: up to 20 characters
MAX_NAME = 100
MAX_TRANS_TYPE = 60
MAX_MSISDN = 80  # a SHA-256 hash (64), a masked or a plain number
MAX_REQUEST_ID = 64  # MerchantRequestID, CheckoutRequestID


class CallbackParseError(ValueError):
    """The callback body lacks a field or holds a value we cannot read; `.field` names it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class C2BPayment:
    trans_id: str  # the M-Pesa receipt; the same namespace as STK MpesaReceiptNumber
    trans_type: str
    trans_time: datetime  # aware, UTC (Safaricom sends Nairobi wall-clock time)
    amount: Decimal
    shortcode: str
    bill_ref: str  # stripped; "" for Buy Goods
    msisdn: str  # hashed, masked or plain: classify with msisdn.classify_msisdn
    first_name: str
    middle_name: str
    last_name: str
    org_balance: Decimal | None
    invoice_number: str
    third_party_trans_id: str


@dataclass(frozen=True)
class StkCallback:
    merchant_request_id: str
    checkout_request_id: str
    result_code: str
    result_desc: str
    receipt: str | None  # set on success only, like the fields below
    amount: Decimal | None
    phone: str | None
    transaction_date: datetime | None
    metadata: dict[str, Any]  # every CallbackMetadata item, Name -> Value (None if absent)

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"


@dataclass(frozen=True)
class AsyncResult:
    result_type: int | None  # 0 = final, 1 = more messages follow
    result_code: str
    result_desc: str
    originator_conversation_id: str
    conversation_id: str
    transaction_id: str
    parameters: dict[str, Any]  # ResultParameters, Key -> Value (None if absent)
    reference_data: dict[str, Any]

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"


def parse_c2b(body: Any) -> C2BPayment:
    """A C2B validation or confirmation body (both have the same flat shape)."""
    body = _object(body, "body")
    return C2BPayment(
        trans_id=_receipt(body.get("TransID"), "TransID"),
        trans_type=_short(body, "TransactionType", MAX_TRANS_TYPE),
        trans_time=eat_datetime(body.get("TransTime"), "TransTime"),
        amount=_amount(body.get("TransAmount"), "TransAmount"),
        shortcode=_shortcode(body.get("BusinessShortCode"), "BusinessShortCode"),
        bill_ref=_short(body, "BillRefNumber", MAX_BILL_REF),
        msisdn=_short(body, "MSISDN", MAX_MSISDN),
        first_name=_short(body, "FirstName", MAX_NAME),
        middle_name=_short(body, "MiddleName", MAX_NAME),
        last_name=_short(body, "LastName", MAX_NAME),
        org_balance=_optional_decimal(body.get("OrgAccountBalance"), "OrgAccountBalance"),
        invoice_number=_text(body.get("InvoiceNumber")),
        third_party_trans_id=_text(body.get("ThirdPartyTransID")),
    )


def parse_stk_callback(body: Any) -> StkCallback:
    """`{"Body": {"stkCallback": {...}}}`; metadata only exists when the payment succeeded."""
    outer = _object(_object(body, "body").get("Body"), "Body")
    callback = _object(outer.get("stkCallback"), "Body.stkCallback")
    result_code = _required_text(callback, "ResultCode", "Body.stkCallback.ResultCode")
    metadata = _named_values(callback.get("CallbackMetadata"), "Item", "Name", "Value",
                             "Body.stkCallback.CallbackMetadata")
    receipt = amount = phone = when = None
    if result_code == "0":
        if not metadata:
            raise CallbackParseError("A successful STK callback must carry CallbackMetadata.",
                                     field="CallbackMetadata")
        if _text(metadata.get("MpesaReceiptNumber")) == "":
            raise CallbackParseError("The successful STK callback has no MpesaReceiptNumber.",
                                     field="MpesaReceiptNumber")
        receipt = _receipt(metadata.get("MpesaReceiptNumber"), "MpesaReceiptNumber")
        amount = _amount(metadata.get("Amount"), "Amount")
        phone = _short(metadata, "PhoneNumber", MAX_MSISDN) or None
        if metadata.get("TransactionDate") not in (None, ""):
            when = eat_datetime(metadata["TransactionDate"], "TransactionDate")
    return StkCallback(
        merchant_request_id=_bounded(_required_text(
            callback, "MerchantRequestID", "Body.stkCallback.MerchantRequestID"),
            "Body.stkCallback.MerchantRequestID", MAX_REQUEST_ID),
        checkout_request_id=_bounded(_required_text(
            callback, "CheckoutRequestID", "Body.stkCallback.CheckoutRequestID"),
            "Body.stkCallback.CheckoutRequestID", MAX_REQUEST_ID),
        result_code=_bounded(result_code, "Body.stkCallback.ResultCode", 20),
        result_desc=_text(callback.get("ResultDesc")),
        receipt=receipt, amount=amount, phone=phone, transaction_date=when, metadata=metadata)


def parse_result(body: Any) -> AsyncResult:
    """The `{"Result": {...}}` envelope of Account Balance and Transaction Status."""
    result = _object(_object(body, "body").get("Result"), "Result")
    originator = _text(result.get("OriginatorConversationID"))
    conversation = _text(result.get("ConversationID"))
    if not (originator or conversation):
        # Without either id the result cannot be matched to the request that asked for it.
        raise CallbackParseError("The result has neither OriginatorConversationID nor "
                                 "ConversationID.", field="Result.ConversationID")
    return AsyncResult(
        result_type=_optional_int(result.get("ResultType"), "Result.ResultType"),
        result_code=_required_text(result, "ResultCode", "Result.ResultCode"),
        result_desc=_text(result.get("ResultDesc")),
        originator_conversation_id=originator,
        conversation_id=conversation,
        transaction_id=_text(result.get("TransactionID")),
        parameters=_named_values(result.get("ResultParameters"), "ResultParameter", "Key",
                                 "Value", "Result.ResultParameters"),
        reference_data=_named_values(result.get("ReferenceData"), "ReferenceItem", "Key",
                                     "Value", "Result.ReferenceData"),
    )


@dataclass(frozen=True)
class TransactionStatus:
    """What a Transaction Status result says about the transaction it was asked about."""

    receipt: str | None  # ReceiptNo; None when the result carries none
    status: str  # TransactionStatus: "Completed", "Cancelled", "Expired"... ("" if absent)
    amount: Decimal | None
    finalised_at: datetime | None  # FinalisedTime, in UTC
    debit_party: str  # "<id> - <name>", as Safaricom writes it ("" if absent)

    @property
    def completed(self) -> bool:
        # Absent counts as completed: a ResultCode 0 with a receipt is a payment made.
        return self.status.lower() in ("", "completed")


def parse_transaction_status(result: AsyncResult) -> TransactionStatus:
    """The parameters of a Transaction Status result (DARAJA.md 8). Key spelling drifts
    ("ReceiptNo", "Receipt No."; "Conversation ID"), so keys are matched without spaces,
    dots or case. The envelope's TransactionID is the query's own id, not the receipt."""
    params = result.parameters
    finalised = _param(params, "FinalisedTime")
    amount = _param(params, "Amount")
    return TransactionStatus(
        receipt=_text(_param(params, "ReceiptNo")) or None,
        status=_text(_param(params, "TransactionStatus")),
        amount=None if _text(amount) == "" else _decimal(amount, "Amount"),
        finalised_at=None if _text(finalised) == "" else eat_datetime(finalised, "FinalisedTime"),
        debit_party=_text(_param(params, "DebitPartyName")))


def _param(params: dict[str, Any], key: str) -> Any:
    wanted = _key(key)
    for name, value in params.items():
        if _key(name) == wanted:
            return value
    return None


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


@dataclass(frozen=True)
class ReversalResult:
    """A Reversal API result. On success the parameters carry the reversed receipt
    (OriginalTransactionID) and the envelope's TransactionID is the reversal's own receipt;
    a failure carries no parameters (DARAJA.md 16)."""

    result: AsyncResult
    original_transaction_id: str  # "" when the result does not say
    amount: Decimal | None
    completed_at: datetime | None

    @property
    def receipt(self) -> str:
        return self.result.transaction_id if self.result.succeeded else ""


def parse_reversal_result(body: Any) -> ReversalResult:
    result = parse_result(body)
    values = result.parameters
    try:
        completed = eat_datetime(_param(values, "TransCompletedTime"), "TransCompletedTime")
    except CallbackParseError:
        completed = None  # informational: an odd time never holds up the reversal
    return ReversalResult(
        result=result,
        original_transaction_id=_text(_param(values, "OriginalTransactionID")),
        amount=_optional_decimal(_param(values, "Amount"), "Result.ResultParameters.Amount"),
        completed_at=completed)


def parse_account_balance(value: Any) -> list[dict[str, Any]]:
    """Split "Name|Currency|n1|n2|n3|n4&..." into one dict per account.

    Daraja calls n1 available and n2 uncleared, n3 reserved and leaves n4 unlabelled
    (DARAJA.md 9, medium confidence), so the raw `amounts` list is kept alongside.
    """
    if value is None or value == "":
        return []
    if not isinstance(value, str):
        raise CallbackParseError("AccountBalance must be a string.", field="AccountBalance")
    accounts = []
    for position, entry in enumerate((part for part in value.split("&") if part.strip()), 1):
        fields = [field.strip() for field in entry.split("|")]
        if not 3 <= len(fields) <= 6 or not fields[0]:
            raise CallbackParseError(
                f"Account #{position} in AccountBalance is not Name|Currency|amounts.",
                field="AccountBalance")
        try:
            amounts = [_decimal(raw, "AccountBalance", negative=True) for raw in fields[2:]]
        except CallbackParseError:
            raise CallbackParseError(f"Account #{position} in AccountBalance has an amount that "
                                     "is not a number.", field="AccountBalance") from None
        padded = amounts + [None] * (len(_BALANCE_COLUMNS) - len(amounts))
        accounts.append({"name": fields[0], "currency": fields[1], "amounts": amounts,
                         **dict(zip(_BALANCE_COLUMNS, padded, strict=True))})
    return accounts


def eat_datetime(value: Any, field: str) -> datetime:
    """A Daraja YYYYMMDDHHmmss stamp (string or number), read as Nairobi time, in UTC."""
    text = _text(value)
    if not _STAMP.match(text):
        raise CallbackParseError(f"{field} must be YYYYMMDDHHmmss, not {text!r}.", field=field)
    try:
        local = datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        raise CallbackParseError(f"{field} is not a real date and time: {text!r}.",
                                 field=field) from None
    return local.replace(tzinfo=EAT).astimezone(UTC)


# --- helpers ----------------------------------------------------------------------------


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        what = "missing" if value is None else f"a {type(value).__name__}, not an object"
        raise CallbackParseError(f"{field} is {what}.", field=field)
    return value


def _text(value: Any) -> str:
    """Numbers become their digits (254708374149, not 254708374149.0); None becomes ""."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return ""
    return str(value).strip()


def _required_text(body: dict[str, Any], key: str, field: str | None = None) -> str:
    text = _text(body.get(key))
    if not text:
        name = field or key
        raise CallbackParseError(f"{name} is missing or empty.", field=name)
    return text


def _bounded(text: str, field: str, limit: int) -> str:
    if len(text) > limit:
        raise CallbackParseError(f"{field} is longer than {limit} characters.", field=field)
    return text


def _short(body: dict[str, Any], key: str, limit: int) -> str:
    """An optional text field of at most `limit` characters ("" when absent)."""
    return _bounded(_text(body.get(key)), key, limit)


def _receipt(value: Any, field: str) -> str:
    """An M-Pesa receipt (TransID, MpesaReceiptNumber): 1 to 20 letters and digits."""
    text = _text(value)
    if not text:
        raise CallbackParseError(f"{field} is missing or empty.", field=field)
    if not _RECEIPT.match(text):
        raise CallbackParseError(f"{field} must be 1 to 20 letters and digits, not "
                                 f"{text[:24]!r}{'…' if len(text) > 24 else ''}.", field=field)
    return text


def _shortcode(value: Any, field: str) -> str:
    text = _text(value)
    if not text:
        raise CallbackParseError(f"{field} is missing or empty.", field=field)
    if not _SHORTCODE.match(text):
        raise CallbackParseError(f"{field} must be digits, not {text[:16]!r}.", field=field)
    return text


def _decimal(value: Any, field: str, *, negative: bool = False) -> Decimal:
    if isinstance(value, (bool, dict, list)) or value is None:
        raise CallbackParseError(f"{field} must be a number.", field=field)
    try:
        # str() first so a JSON float 1.0 becomes Decimal("1.0"), not its binary expansion.
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise CallbackParseError(f"{field} is not a number: {str(value)[:40]!r}.",
                                 field=field) from None
    if not number.is_finite() or (number < 0 and not negative):
        raise CallbackParseError(f"{field} must be a finite, non-negative amount.", field=field)
    return number


def _amount(value: Any, field: str) -> Decimal:
    """A payment's amount: finite, above 0, at most 1,000,000, in whole cents."""
    if value in (None, ""):
        raise CallbackParseError(f"{field} is missing.", field=field)
    number = _decimal(value, field)
    if not 0 < number <= MAX_AMOUNT:
        raise CallbackParseError(f"{field} must be more than 0 and at most 1,000,000, not "
                                 f"{str(value)[:24]}.", field=field)
    if number != number.quantize(_CENT):
        raise CallbackParseError(f"{field} has more than 2 decimals: {str(value)[:24]}.",
                                 field=field)
    return number


def _optional_decimal(value: Any, field: str) -> Decimal | None:
    if value is None or _text(value) == "":
        return None  # empty in validation requests, a balance in confirmations
    return _decimal(value, field, negative=True)


def _optional_int(value: Any, field: str) -> int | None:
    text = _text(value)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise CallbackParseError(f"{field} must be a whole number, not {text!r}.",
                                 field=field) from None


def _named_values(container: Any, list_key: str, name_key: str, value_key: str,
                  field: str) -> dict[str, Any]:
    """Name/Value (or Key/Value) items as a dict; the list may be one bare object, the
    container may be absent or "", and an item's Value may be missing."""
    if container in (None, ""):
        return {}
    items = _object(container, field).get(list_key)
    if items in (None, ""):
        return {}
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise CallbackParseError(f"{field}.{list_key} must be a list or an object.",
                                 field=f"{field}.{list_key}")
    values: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or _text(item.get(name_key)) == "":
            raise CallbackParseError(f"Every {field}.{list_key} entry needs a {name_key}.",
                                     field=f"{field}.{list_key}")
        values[_text(item[name_key])] = item.get(value_key)
    return values
