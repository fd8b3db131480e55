"""The Reversal API: accept now, POST the Result later (DARAJA.md 16, 10).

Strict like Safaricom on the request (every field, `CommandID`, the misspelt
`RecieverIdentifierType` "11", Remarks of 2-100 characters); the outcome comes only in the
result: the first reversal of a receipt the emulator completed succeeds (the money leaves
the organisation's balance), a second one is `R000001` (already reversed), an unknown
receipt or another number's is `R000002`, more than the receipt's amount is refused, and an
organisation without the money gets `1` (insufficient balance).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loyalty.emulator import rules
from loyalty.emulator.core import Emulator
from loyalty.emulator.errors import invalid
from loyalty.emulator.payloads import (
    money,
    new_conversation_id,
    new_originator_id,
    new_receipt,
    result_envelope,
    stamp,
)

ACCEPTED = "Accept the service request successfully."
FAILURES = {
    "R000001": "The transaction has already been reversed.",
    "R000002": "The OriginalTransactionID is invalid.",
    "1": "The balance is insufficient for the transaction.",
    "2006": "Declined: the amount is more than the original transaction.",
}


def reverse(emu: Emulator, grant: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    request = _checked(body, grant, emu.public_urls(grant))
    ids = {"originator": new_originator_id(), "conversation": new_conversation_id()}
    envelope = _outcome(emu, request, ids)
    url = request["result_url"]
    emu.dispatcher.submit(
        lambda: emu.deliverer.deliver("reversal_result", url, envelope, ref=ids["conversation"]))
    return {"OriginatorConversationID": ids["originator"], "ConversationID": ids["conversation"],
            "ResponseCode": "0", "ResponseDescription": ACCEPTED}


def _checked(body: dict[str, Any], grant: dict[str, Any], public: bool) -> dict[str, Any]:
    rules.required(body, "Initiator")
    rules.required(body, "SecurityCredential")
    if rules.required(body, "CommandID") != "TransactionReversal":
        raise invalid("CommandID")
    receipt = str(rules.required(body, "TransactionID")).strip()
    party = rules.shortcode(rules.required(body, "ReceiverParty"), "ReceiverParty")
    if grant["environment"] == "production" and party not in grant["shortcodes"]:
        raise invalid("ReceiverParty")
    if str(rules.required(body, "RecieverIdentifierType")) != "11":  # sic, as Safaricom spells it
        raise invalid("RecieverIdentifierType")
    remarks = str(rules.required(body, "Remarks")).strip()
    if not 2 <= len(remarks) <= 100:
        raise invalid("Remarks")
    return {
        "receipt": receipt, "party": party,
        "amount": rules.amount(rules.required(body, "Amount")),
        "result_url": rules.callback_url(rules.required(body, "ResultURL"), "ResultURL",
                                         public=public),
        "timeout_url": rules.callback_url(rules.required(body, "QueueTimeOutURL"),
                                          "QueueTimeOutURL", public=public),
        "occasion": str(body.get("Occasion") or ""),
    }


def _outcome(emu: Emulator, request: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    found = emu.state.receipt(request["receipt"])
    if found is None or request["party"] not in (found["shortcode"],
                                                 found.get("business_shortcode")):
        return _failure("R000002", request, ids)  # only your own number's receipts
    amount = request["amount"]
    if amount > Decimal(found["amount"]):
        return _failure("2006", request, ids)
    if not emu.state.claim_reversal(found["receipt"]):
        return _failure("R000001", request, ids)
    cents = int(amount * 100)
    if emu.state.balance_cents(found["shortcode"]) < cents:
        emu.state.release_reversal(found["receipt"])
        return _failure("1", request, ids)
    left = Decimal(emu.state.credit(found["shortcode"], -cents)) / 100
    return result_envelope(
        code=0, desc="The service request is processed successfully.",
        originator_id=ids["originator"], conversation_id=ids["conversation"],
        transaction_id=new_receipt(),  # the reversal's own receipt
        parameters=[
            {"Key": "DebitAccountBalance", "Value": f"Utility Account|KES|{money(left)}|"
                                                     f"{money(left)}|0.00|0.00"},
            {"Key": "Amount", "Value": float(amount)},
            {"Key": "TransCompletedTime", "Value": int(stamp())},
            {"Key": "OriginalTransactionID", "Value": found["receipt"]},
            {"Key": "Charge", "Value": 0.0},
            {"Key": "CreditPartyPublicName", "Value": f"{found['msisdn']} - "
                                                       f"{found['first_name']}"},
            {"Key": "DebitPartyPublicName", "Value": f"{found['shortcode']} - Emulated Merchant"},
        ],
        reference={"Key": "QueueTimeoutURL", "Value": request["timeout_url"]})


def _failure(code: str, request: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    # Failures carry no ResultParameters (DARAJA.md 16).
    return result_envelope(
        code=int(code) if code.isdigit() else code, desc=FAILURES[code], originator_id=ids["originator"],
        conversation_id=ids["conversation"], transaction_id=new_receipt(), parameters=None,
        reference={"Key": "QueueTimeoutURL", "Value": request["timeout_url"]})
