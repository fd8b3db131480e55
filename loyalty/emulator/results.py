"""Account Balance and Transaction Status: accept now, POST the Result later (DARAJA.md 8-10).

We cannot decrypt a SecurityCredential, so any non-empty one is accepted; the initiator checks
that fail with result codes 18/20/2001 in production are out of scope.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loyalty.emulator import rules
from loyalty.emulator.core import Emulator
from loyalty.emulator.errors import invalid
from loyalty.emulator.payloads import (
    balance_string,
    new_conversation_id,
    new_originator_id,
    new_receipt,
    result_envelope,
    stamp,
)

ACCEPTED = "Accept the service request successfully."
DONE = "The service request is processed successfully."
IDENTIFIER_TYPES = ("1", "2", "4")


def _common(body: dict[str, Any], command: str, grant: dict[str, Any],
            public: bool) -> dict[str, str]:
    rules.required(body, "Initiator")
    rules.required(body, "SecurityCredential")
    if rules.required(body, "CommandID") != command:
        raise invalid("CommandID")
    party = rules.shortcode(rules.required(body, "PartyA"), "PartyA")
    if grant["environment"] == "production" and party not in grant["shortcodes"]:
        raise invalid("PartyA")
    if str(rules.required(body, "IdentifierType")) not in IDENTIFIER_TYPES:
        raise invalid("IdentifierType")
    return {
        "party": party,
        "result_url": rules.callback_url(rules.required(body, "ResultURL"), "ResultURL",
                                         public=public),
        "timeout_url": rules.callback_url(rules.required(body, "QueueTimeOutURL"),
                                          "QueueTimeOutURL", public=public),
        "originator": new_originator_id(),
        "conversation": new_conversation_id(),
    }


def _accepted(ids: dict[str, str]) -> dict[str, Any]:
    return {"OriginatorConversationID": ids["originator"], "ConversationID": ids["conversation"],
            "ResponseCode": "0", "ResponseDescription": ACCEPTED}


def account_balance(emu: Emulator, grant: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    ids = _common(body, "AccountBalance", grant, emu.public_urls(grant))
    merchant = emu.state.stk_shortcode(ids["party"]) or {"kind": "paybill", "tills": []}
    # A store (head office) collects through its tills: report them together.
    codes = [ids["party"], *merchant.get("tills", [])]
    collections = Decimal(sum(emu.state.balance_cents(c) for c in codes)) / 100
    envelope = result_envelope(
        code=0, desc=DONE, originator_id=ids["originator"], conversation_id=ids["conversation"],
        transaction_id=new_receipt(),
        parameters=[
            {"Key": "AccountBalance", "Value": balance_string(collections, merchant["kind"])},
            {"Key": "BOCompletedTime", "Value": int(stamp())},
        ],
        reference={"Key": "QueueTimeoutURL", "Value": ids["timeout_url"]},
    )
    _send_later(emu, "balance_result", ids, envelope)
    return _accepted(ids)


def transaction_status(emu: Emulator, grant: dict[str, Any],
                       body: dict[str, Any]) -> dict[str, Any]:
    ids = _common(body, "TransactionStatusQuery", grant, emu.public_urls(grant))
    transaction_id = str(body.get("TransactionID") or "").strip()
    original = str(body.get("OriginalConversationID") or "").strip()
    if not transaction_id and not original:
        raise invalid("TransactionID")
    if not transaction_id:
        # Asked by the original request's id: an STK push's CheckoutRequestID finds the
        # receipt of the payment it made, once the customer has paid.
        stk = emu.state.stk(original) or {}
        if stk.get("completed"):
            transaction_id = stk.get("MpesaReceiptNumber") or ""
    receipt = emu.state.receipt(transaction_id) if transaction_id else None
    if receipt and ids["party"] not in (receipt["shortcode"], receipt.get("business_shortcode")):
        receipt = None  # only your own shortcode's receipts are visible
    reference = {"Key": "Occasion", "Value": str(body.get("Occasion") or "")}
    if receipt is None:
        envelope = result_envelope(
            code=25, desc="Invalid request parameters: the transaction was not found.",
            originator_id=ids["originator"], conversation_id=ids["conversation"],
            transaction_id=transaction_id or new_receipt(), parameters=None, reference=reference,
        )
    else:
        envelope = result_envelope(
            code=0, desc=DONE, originator_id=ids["originator"],
            conversation_id=ids["conversation"], transaction_id=receipt["receipt"],
            parameters=_status_parameters(receipt, ids), reference=reference,
        )
    _send_later(emu, "status_result", ids, envelope)
    return _accepted(ids)


def _status_parameters(receipt: dict[str, Any], ids: dict[str, str]) -> list[dict[str, Any]]:
    msisdn = receipt["msisdn"]
    # The spaced "Conversation ID" keys are Safaricom's own (DARAJA.md 8); parsers must cope.
    return [
        {"Key": "DebitPartyName", "Value": f"{msisdn[:6]}***{msisdn[-3:]} - {receipt['first_name']}"},
        {"Key": "CreditPartyName", "Value": f"{receipt['shortcode']} - Emulated Merchant"},
        {"Key": "Originator Conversation ID", "Value": ids["originator"]},
        {"Key": "InitiatedTime", "Value": int(receipt["time"])},
        {"Key": "DebitAccountType", "Value": "MMF Account For Customer"},
        {"Key": "DebitPartyCharges", "Value": ""},
        {"Key": "TransactionReason", "Value": ""},
        {"Key": "ReasonType", "Value": "Pay Bill Online"
         if receipt["command_id"] == "CustomerPayBillOnline" else "Buy Goods Online"},
        {"Key": "TransactionStatus", "Value": "Completed"},
        {"Key": "FinalisedTime", "Value": int(receipt["time"])},
        {"Key": "Amount", "Value": float(Decimal(receipt["amount"]))},
        {"Key": "Conversation ID", "Value": ids["conversation"]},
        {"Key": "ReceiptNo", "Value": receipt["receipt"]},
    ]


def _send_later(emu: Emulator, kind: str, ids: dict[str, str], envelope: dict[str, Any]) -> None:
    url = ids["result_url"]
    emu.dispatcher.submit(
        lambda: emu.deliverer.deliver(kind, url, envelope, ref=ids["conversation"])
    )

