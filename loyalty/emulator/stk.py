"""M-Pesa Express (STK Push): the push, the customer's answer, the callback, the query (DARAJA.md 6).

The customer's answer is scripted by the control API (per phone or globally) and arrives
after `stk_delay` seconds. Until then STK Query says "being processed", exactly the state the
platform's reconciliation has to cope with.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from loyalty.emulator import pull, rules
from loyalty.emulator.c2b import payment_body
from loyalty.emulator.core import Emulator
from loyalty.emulator.errors import DarajaError, invalid
from loyalty.emulator.payloads import (
    STK_RESULTS,
    money,
    new_checkout_request_id,
    new_merchant_request_id,
    new_receipt,
    stamp,
    stk_callback,
)

ACCEPTED = "Success. Request accepted for processing"
TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")


def _merchant(emu: Emulator, grant: dict[str, Any], body: dict[str, Any]) -> tuple[str, dict]:
    """The BusinessShortCode, its passkey record, and a checked Password."""
    code = rules.shortcode(rules.required(body, "BusinessShortCode"), "BusinessShortCode")
    password = str(rules.required(body, "Password"))
    stamp_value = rules.timestamp(rules.required(body, "Timestamp"))
    record = emu.state.stk_shortcode(code)
    on_app = grant["environment"] != "production" or code in grant["shortcodes"]
    if record is None or not on_app:
        raise DarajaError(500, "500.001.1001", "Merchant does not exist")
    if password != rules.stk_password(code, record["passkey"], stamp_value):
        raise DarajaError(500, "500.001.1001", "Wrong credentials")
    return code, record


def push(emu: Emulator, grant: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    code, merchant = _merchant(emu, grant, body)
    kind = rules.required(body, "TransactionType")
    if kind not in TYPES:
        raise invalid("TransactionType")
    amount = rules.amount(rules.required(body, "Amount"))
    rules.phone(rules.required(body, "PartyA"), "PartyA")
    party_b = rules.shortcode(rules.required(body, "PartyB"), "PartyB")
    phone = rules.phone(rules.required(body, "PhoneNumber"), "PhoneNumber")
    callback = rules.callback_url(rules.required(body, "CallBackURL"), "CallBackURL",
                                  public=emu.public_urls(grant))
    reference = str(rules.required(body, "AccountReference"))
    if len(reference) > 12:
        raise invalid("AccountReference")

    outcome = emu.state.stk_outcome(phone)
    result_code, result_desc = STK_RESULTS.get(outcome, STK_RESULTS["success"])
    # PayBill vs Till (DARAJA.md 6.2): a mismatch is accepted now and fails in the callback.
    paybill = merchant["kind"] == "paybill"
    if kind != ("CustomerPayBillOnline" if paybill else "CustomerBuyGoodsOnline"):
        outcome, result_code = "failed", 2028
        result_desc = "The request is not permitted according to product assignment"
    elif (paybill and party_b != code) or (not paybill and party_b not in merchant["tills"]):
        outcome, result_code, result_desc = "failed", "SFC_IC0003", "The operator does not exist"

    delay = float(emu.state.settings()["stk_delay"])
    record = {
        "MerchantRequestID": new_merchant_request_id(),
        "CheckoutRequestID": new_checkout_request_id(),
        "BusinessShortCode": code, "PartyB": party_b, "TransactionType": kind,
        "Amount": money(amount), "PhoneNumber": phone, "AccountReference": reference,
        "CallBackURL": callback, "outcome": outcome,
        "ResultCode": result_code, "ResultDesc": result_desc,
        "MpesaReceiptNumber": new_receipt() if result_code == 0 else None,
        "completes_at": time.time() + delay, "completed": False,
    }
    emu.state.save_stk(record)
    emu.dispatcher.submit(lambda: finish(emu, record["CheckoutRequestID"]), delay=delay)
    return {
        "MerchantRequestID": record["MerchantRequestID"],
        "CheckoutRequestID": record["CheckoutRequestID"],
        "ResponseCode": "0", "ResponseDescription": ACCEPTED, "CustomerMessage": ACCEPTED,
    }


def finish(emu: Emulator, checkout_request_id: str) -> None:
    """The customer has answered: settle, then call back (unless the callback is 'lost')."""
    stk = emu.state.stk(checkout_request_id)
    if stk is None or stk["completed"]:
        return
    stk.update(completed=True, TransactionDate=stamp())
    emu.state.save_stk(stk)
    if stk["ResultCode"] == 0:
        emu.state.credit(stk["PartyB"], int(Decimal(stk["Amount"]) * 100))
        emu.state.save_receipt({
            "receipt": stk["MpesaReceiptNumber"], "kind": "stk",
            "command_id": stk["TransactionType"], "shortcode": stk["PartyB"],
            "business_shortcode": stk["BusinessShortCode"], "amount": stk["Amount"],
            "msisdn": stk["PhoneNumber"], "first_name": "John",
            "bill_ref": stk["AccountReference"], "time": stk["TransactionDate"],
        })
        # A push is a C2B payment to the till or PayBill (and its store number) for Pull.
        pull.record(emu, [stk["PartyB"], stk["BusinessShortCode"]],
                    receipt=stk["MpesaReceiptNumber"], command_id=stk["TransactionType"],
                    amount=stk["Amount"], msisdn=stk["PhoneNumber"],
                    bill_ref=stk["AccountReference"], first_name="John",
                    trans_time=stk["TransactionDate"])
    if stk["outcome"] == "silent":
        emu.deliverer.note("stk_callback", checkout_request_id, "not sent: outcome 'silent'",
                           stk_callback(stk))
    else:
        emu.deliverer.deliver("stk_callback", stk["CallBackURL"], stk_callback(stk),
                              ref=checkout_request_id)
    if stk["ResultCode"] == 0 and emu.state.settings()["stk_c2b_echo"]:
        _echo_as_c2b(emu, stk)


def _echo_as_c2b(emu: Emulator, stk: dict[str, Any]) -> None:
    """DARAJA.md 4.6: the same receipt also reaches the shortcode's C2B ConfirmationURL."""
    payment = {
        "trans_id": stk["MpesaReceiptNumber"], "command_id": stk["TransactionType"],
        "shortcode": stk["PartyB"], "amount": stk["Amount"],
        "bill_ref": stk["AccountReference"], "msisdn": stk["PhoneNumber"],
        "msisdn_form": "hashed", "first_name": "John", "middle_name": "", "last_name": "",
        "trans_time": stk["TransactionDate"],
    }
    # The money already moved with the STK payment: no validation, no second credit.
    registration = emu.state.registration(stk["PartyB"])
    if registration is None:
        emu.deliverer.note("c2b_confirmation", payment["trans_id"],
                           f"not sent: no URLs registered for shortcode {stk['PartyB']}")
        return
    balance = money(Decimal(emu.state.balance_cents(stk["PartyB"])) / 100)
    emu.deliverer.deliver("c2b_confirmation", registration["ConfirmationURL"],
                          payment_body(payment, org_balance=balance), ref=payment["trans_id"])


def query(emu: Emulator, grant: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    _merchant(emu, grant, body)
    checkout_id = str(rules.required(body, "CheckoutRequestID"))
    stk = emu.state.stk(checkout_id)
    if stk is None:
        raise invalid("CheckoutRequestID")
    if not stk["completed"] and time.time() < stk["completes_at"]:
        raise DarajaError(500, "500.001.1001", "The transaction is being processed")
    return {
        "ResponseCode": "0",
        # Safaricom's spelling, triple s included.
        "ResponseDescription": "The service request has been accepted successsfully",
        "MerchantRequestID": stk["MerchantRequestID"],
        "CheckoutRequestID": stk["CheckoutRequestID"],
        "ResultCode": str(stk["ResultCode"]),
        "ResultDesc": stk["ResultDesc"],
    }
