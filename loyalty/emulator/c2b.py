"""A customer paying a PayBill or Till: validation (if enabled), then confirmation (DARAJA.md 4).

One function serves the Daraja simulate endpoint, the control API and the human page, so all
three produce the same callbacks. The answer returns at once; the callbacks follow in the
dispatcher, as with Safaricom.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from loyalty.emulator import pull, rules
from loyalty.emulator.core import Emulator
from loyalty.emulator.errors import invalid
from loyalty.emulator.payloads import c2b_payload, money, new_receipt, stamp
from loyalty.phones import InvalidPhone, normalise_msisdn

COMMANDS = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
MSISDN_FORMS = ("hashed", "masked", "plain")


def simulate_payment(emu: Emulator, *, shortcode: Any, amount: Any, msisdn: Any,
                     bill_ref: Any = "", command_id: str = "CustomerPayBillOnline",
                     first_name: str = "John", middle_name: str = "", last_name: str = "",
                     msisdn_form: str = "hashed", trans_id: str | None = None,
                     drop_confirmation: bool = False) -> dict[str, Any]:
    """Validate, schedule the callbacks, and return the payment (with its TransID).
    `drop_confirmation`: the money moves but the confirmation is lost on the way, as when
    the platform's URL was down (Safaricom does not retry)."""
    if command_id not in COMMANDS:
        raise invalid("CommandID")
    if msisdn_form not in MSISDN_FORMS:
        raise invalid("MsisdnForm")
    try:
        phone = normalise_msisdn(msisdn)
    except InvalidPhone:
        raise invalid("Msisdn") from None
    receipt = str(trans_id).strip().upper() if trans_id else new_receipt()
    if not receipt.isalnum() or len(receipt) > 20:
        raise invalid("TransID")
    payment = {
        "trans_id": receipt,
        "command_id": command_id,
        "shortcode": rules.shortcode(shortcode),
        "amount": money(rules.amount(amount)),
        "bill_ref": "" if bill_ref is None else str(bill_ref).strip(),
        "msisdn": phone,
        "msisdn_form": msisdn_form,
        "first_name": str(first_name or ""),
        "middle_name": str(middle_name or ""),
        "last_name": str(last_name or ""),
        "trans_time": stamp(),
        "drop_confirmation": bool(drop_confirmation),
    }
    emu.dispatcher.submit(lambda: run_payment(emu, payment))
    return payment


def run_payment(emu: Emulator, payment: dict[str, Any]) -> None:
    """The callbacks M-Pesa sends once the customer has paid."""
    state, receipt = emu.state, payment["trans_id"]
    registration = state.registration(payment["shortcode"])
    if registration is None:
        # DARAJA.md 4.3: with no URLs registered the payment completes and nobody is told.
        _complete(emu, payment)
        emu.deliverer.note("c2b_confirmation", receipt,
                           f"not sent: no URLs registered for shortcode {payment['shortcode']}")
        return
    third_party = ""
    if state.validation_enabled(payment["shortcode"]):
        sent = emu.deliverer.deliver("c2b_validation", registration["ValidationURL"],
                                     payment_body(payment, org_balance=""), ref=receipt)
        accepted, third_party, why = _verdict(sent, registration["ResponseType"])
        if not accepted:
            emu.deliverer.note("c2b_confirmation", receipt, f"not sent: {why}")
            return
    balance = _complete(emu, payment)
    if payment.get("drop_confirmation") or state.drop_confirmation():
        emu.deliverer.note("c2b_confirmation", receipt, "not sent: lost on the way (the "
                           "emulator's drop-confirmations switch); Pull Transactions has it",
                           payment_body(payment, org_balance=balance, third_party_id=third_party))
        return
    emu.deliverer.deliver("c2b_confirmation", registration["ConfirmationURL"],
                          payment_body(payment, org_balance=balance, third_party_id=third_party),
                          ref=receipt)


def payment_body(payment: dict[str, Any], org_balance: str,
                 third_party_id: str = "") -> dict[str, Any]:
    return c2b_payload(
        trans_id=payment["trans_id"], command_id=payment["command_id"],
        amount=Decimal(payment["amount"]), shortcode=payment["shortcode"],
        bill_ref=payment["bill_ref"], msisdn=payment["msisdn"],
        msisdn_form=payment["msisdn_form"], first_name=payment["first_name"],
        middle_name=payment["middle_name"], last_name=payment["last_name"],
        trans_time=payment["trans_time"], org_balance=org_balance,
        third_party_id=third_party_id,
    )


def _complete(emu: Emulator, payment: dict[str, Any]) -> str:
    """Money moves: credit the shortcode and remember the receipt for Transaction Status."""
    cents = int(Decimal(payment["amount"]) * 100)
    balance = emu.state.credit(payment["shortcode"], cents)
    emu.state.save_receipt({
        "receipt": payment["trans_id"], "kind": "c2b", "command_id": payment["command_id"],
        "shortcode": payment["shortcode"], "amount": payment["amount"],
        "msisdn": payment["msisdn"], "first_name": payment["first_name"],
        "bill_ref": payment["bill_ref"], "time": payment["trans_time"],
    })
    pull.record(emu, [payment["shortcode"]], receipt=payment["trans_id"],
                command_id=payment["command_id"], amount=payment["amount"],
                msisdn=payment["msisdn"], bill_ref=payment["bill_ref"],
                first_name=payment["first_name"], trans_time=payment["trans_time"])
    return money(Decimal(balance) / 100)


def _verdict(sent: dict[str, Any], response_type: str) -> tuple[bool, str, str]:
    """(accepted, ThirdPartyTransID, reason). No usable answer → ResponseType decides (4.3)."""
    answer: Any = None
    if sent["status"] is not None and 200 <= sent["status"] < 300:
        try:
            answer = json.loads(sent["response"] or "")
        except ValueError:
            answer = None
    if isinstance(answer, dict) and "ResultCode" in answer:
        code = str(answer["ResultCode"]).strip()
        if code == "0":
            return True, str(answer.get("ThirdPartyTransID") or ""), "accepted"
        return False, "", f"validation rejected the payment with ResultCode {code}"
    if response_type == "Completed":
        return True, "", "no validation answer; ResponseType Completed"
    return False, "", "no validation answer; ResponseType Cancelled"
