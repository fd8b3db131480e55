"""C2B: URL registration rules, simulate, and the validation/confirmation callbacks (DARAJA.md 4)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.unit.emulator.conftest import TEST_PHONE, add_app, bearer, register, token

SIMULATE = "/_emulator/daraja/mpesa/c2b/v2/simulate"
# Production registrations need https and a public host; nothing calls these back.
PUBLIC = "https://loyalty.example.com/hooks/ab12"


def simulate(client, headers, **fields):
    body = {"ShortCode": 600000, "CommandID": "CustomerPayBillOnline", "Amount": 5000,
            "Msisdn": int(TEST_PHONE), "BillRefNumber": "VIP001", **fields}
    return client.post(SIMULATE, headers=headers, json=body)


def test_register_answers_with_safaricoms_typo_and_stores_the_urls(emu_client, receiver):
    response = register(emu_client, bearer(emu_client), "600000", receiver.url, version="v1")
    assert response.status_code == 200
    body = response.get_json()
    assert body["ResponseCode"] == "0" and body["ResponseDescription"] == "Success"
    assert body["OriginatorCoversationID"]
    stored = emu_client.get("/_emulator/state").get_json()["registrations"]["600000"]
    assert stored["ConfirmationURL"] == f"{receiver.url}/confirm"
    assert stored["ResponseType"] == "Completed" and stored["version"] == "v1"


@pytest.mark.parametrize("response_type", ["completed", "Complete", "", None])
def test_response_type_must_be_spelled_exactly(emu_client, response_type):
    response = emu_client.post(
        "/_emulator/daraja/mpesa/c2b/v2/registerurl", headers=bearer(emu_client),
        json={"ShortCode": "600000", "ResponseType": response_type,
              "ConfirmationURL": "https://cb.test/c", "ValidationURL": "https://cb.test/v"})
    assert response.status_code == 400
    assert response.get_json()["errorCode"] == "400.002.02"
    assert "ResponseType" in response.get_json()["errorMessage"]


def test_both_urls_are_required(emu_client):
    response = emu_client.post(
        "/_emulator/daraja/mpesa/c2b/v2/registerurl", headers=bearer(emu_client),
        json={"ShortCode": "600000", "ResponseType": "Completed",
              "ConfirmationURL": "https://cb.test/c"})
    assert response.status_code == 400 and "ValidationURL" in response.get_json()["errorMessage"]


@pytest.mark.parametrize("url, word", [
    ("https://cb.test/mpesa/confirm", "mpesa"),
    ("https://cb.test/M-PESA/confirm", "m-pesa"),
    ("https://safaricom-hooks.test/c", "safaricom"),
    ("https://executive-lounge.test/c", "exe"),
    ("https://cb.test/c?Query=1", "query"),
    ("https://cb.test/sequel/SQL", "sql"),
    ("https://cmdr.test/c", "cmd"),
])
def test_forbidden_words_are_refused_as_substrings(emu_client, url, word):
    response = emu_client.post(
        "/_emulator/daraja/mpesa/c2b/v1/registerurl", headers=bearer(emu_client),
        json={"ShortCode": "600000", "ResponseType": "Completed",
              "ConfirmationURL": url, "ValidationURL": "https://cb.test/v"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["errorCode"] == "400.003.02"
    assert "ConfirmationURL" in body["errorMessage"] and word in body["errorMessage"]


def test_product_version_must_match_the_app(emu_client, receiver):
    add_app(emu_client, consumer_key="v2-only", products=["c2b_v2"])
    headers = bearer(emu_client, key="v2-only", secret="secret")
    v1 = register(emu_client, headers, "600111", receiver.url, version="v1")
    assert v1.status_code == 401
    assert v1.get_json()["errorMessage"] == (
        "Invalid Access Token - Invalid API call as no apiproduct match found")
    assert register(emu_client, headers, "600111", receiver.url, version="v2").status_code == 200


def test_production_registers_once_per_shortcode_and_sandbox_overwrites(emu_client, receiver):
    add_app(emu_client, consumer_key="live", environment="production", shortcodes=["600222"])
    live = bearer(emu_client, key="live", secret="secret")
    assert register(emu_client, live, "600222", PUBLIC).status_code == 200
    again = register(emu_client, live, "600222", PUBLIC + "/new")
    assert again.status_code == 500
    assert again.get_json()["errorCode"] == "500.003.1001"
    assert again.get_json()["errorMessage"] == "Urls are already registered"
    # Deleting the registration (Daraja's URL management) allows a new one.
    emu_client.delete("/_emulator/control/registrations/600222")
    assert register(emu_client, live, "600222", PUBLIC + "/new").status_code == 200

    sandbox = bearer(emu_client)
    assert register(emu_client, sandbox, "600000", receiver.url).status_code == 200
    assert register(emu_client, sandbox, "600000", receiver.url + "/b").status_code == 200


def test_production_apps_only_register_their_own_shortcodes(emu_client, receiver):
    add_app(emu_client, consumer_key="live", environment="production", shortcodes=["600222"])
    response = register(emu_client, bearer(emu_client, key="live", secret="secret"), "600333",
                        PUBLIC)
    assert response.status_code == 400 and "ShortCode" in response.get_json()["errorMessage"]


def test_simulate_sends_a_realistic_confirmation(emu_client, emu, receiver):
    headers = {"Authorization": f"Bearer {token(emu_client)}"}
    register(emu_client, headers, "600000", receiver.url)
    response = simulate(emu_client, headers, FirstName="Jane", LastName="Wanjiku")
    assert response.status_code == 200
    assert response.get_json()["ResponseDescription"] == "Accept the service request successfully."
    assert response.get_json()["ResponseCode"] == "0"

    [body] = receiver.wait("/confirm")
    assert receiver.bodies("/validate") == []  # validation is opt-in, off by default
    assert body["MSISDN"] == hashlib.sha256(b"254708374149").hexdigest()
    assert body["TransactionType"] == "Pay Bill"
    assert re.fullmatch(r"[A-Z0-9]{10}", body["TransID"])
    assert body["BusinessShortCode"] == "600000" and body["BillRefNumber"] == "VIP001"
    assert body["TransAmount"] == "5000.00" and Decimal(body["TransAmount"]) == 5000
    assert (body["FirstName"], body["MiddleName"], body["LastName"]) == ("Jane", "", "Wanjiku")
    assert body["OrgAccountBalance"] == "5000.00"
    eat = datetime.strptime(body["TransTime"], "%Y%m%d%H%M%S").replace(
        tzinfo=timezone(timedelta(hours=3)))
    assert abs(datetime.now(timezone.utc) - eat) < timedelta(minutes=1)
    assert set(body) == {"TransactionType", "TransID", "TransTime", "TransAmount",
                         "BusinessShortCode", "BillRefNumber", "InvoiceNumber",
                         "OrgAccountBalance", "ThirdPartyTransID", "MSISDN", "FirstName",
                         "MiddleName", "LastName"}
    assert emu.dispatcher.join(5)
    [delivery] = emu_client.get("/_emulator/state").get_json()["callback_deliveries"]
    assert delivery["kind"] == "c2b_confirmation" and delivery["status"] == 200
    assert delivery["payload"] == body and '"ResultCode": 0' in delivery["response"]


def test_buy_goods_msisdn_forms_and_forced_receipts(emu_client, receiver):
    headers = bearer(emu_client)
    register(emu_client, headers, "600000", receiver.url)
    simulate(emu_client, headers, CommandID="CustomerBuyGoodsOnline", MsisdnForm="masked",
             TransID="QWE123RTY0")
    simulate(emu_client, headers, MsisdnForm="plain", TransID="QWE123RTY0")
    first, second = receiver.wait("/confirm", count=2)
    masked = next(b for b in (first, second) if "*" in b["MSISDN"])
    plain = next(b for b in (first, second) if "*" not in b["MSISDN"])
    assert masked["TransactionType"] == "Buy Goods" and masked["BillRefNumber"] == ""
    assert masked["MSISDN"] == "25470****149" and plain["MSISDN"] == TEST_PHONE
    assert masked["TransID"] == plain["TransID"] == "QWE123RTY0"  # a duplicate delivery


def test_validation_acceptance_is_followed_by_confirmation(emu_client, receiver):
    headers = bearer(emu_client)
    register(emu_client, headers, "600000", receiver.url)
    emu_client.post("/_emulator/control/validation", json={"shortcode": "600000"})
    receiver.replies["/validate"] = (200, {"ResultCode": "0", "ResultDesc": "Accepted",
                                           "ThirdPartyTransID": "ref-42"})
    simulate(emu_client, headers)
    [validation] = receiver.wait("/validate")
    [confirmation] = receiver.wait("/confirm")
    assert validation["OrgAccountBalance"] == "" and validation["TransID"] == confirmation["TransID"]
    assert confirmation["ThirdPartyTransID"] == "ref-42"


def test_validation_rejection_stops_the_confirmation(emu_client, emu, receiver):
    headers = bearer(emu_client)
    register(emu_client, headers, "600000", receiver.url)
    emu_client.post("/_emulator/control/validation", json={"shortcode": "*", "enabled": True})
    receiver.replies["/validate"] = (200, {"ResultCode": "C2B00012", "ResultDesc": "Rejected"})
    simulate(emu_client, headers)
    receiver.wait("/validate")
    assert emu.dispatcher.join(5)
    assert receiver.bodies("/confirm") == []
    kinds = [(d["kind"], d["error"]) for d in emu.state.deliveries()]
    assert kinds[0][0] == "c2b_confirmation" and "C2B00012" in kinds[0][1]
    assert kinds[1] == ("c2b_validation", None)


@pytest.mark.parametrize("response_type, confirmed", [("Completed", 1), ("Cancelled", 0)])
def test_unanswered_validation_falls_back_to_the_response_type(
        emu_client, emu, receiver, response_type, confirmed):
    headers = bearer(emu_client)
    register(emu_client, headers, "600000", receiver.url, response_type=response_type)
    emu_client.post("/_emulator/control/validation", json={"shortcode": "600000"})
    receiver.replies["/validate"] = (502, "<html>bad gateway</html>")
    simulate(emu_client, headers)
    assert emu.dispatcher.join(5)
    assert len(receiver.bodies("/confirm")) == confirmed


def test_unreachable_callback_urls_are_recorded_not_raised(emu_client, emu):
    headers = bearer(emu_client)
    register(emu_client, headers, "600000", "http://127.0.0.1:9")  # discard port: refused
    assert simulate(emu_client, headers).status_code == 200
    assert emu.dispatcher.join(10)
    [delivery] = emu.state.deliveries()
    assert delivery["status"] is None and "ConnectionError" in delivery["error"]


def test_unregistered_shortcodes_get_paid_silently(emu_client, emu):
    assert simulate(emu_client, bearer(emu_client), ShortCode=600999).status_code == 200
    assert emu.dispatcher.join(5)
    [note] = emu.state.deliveries()
    assert note["url"] is None and "no URLs registered" in note["error"]


def test_simulate_checks_its_fields_and_refuses_production(emu_client):
    bad = simulate(emu_client, bearer(emu_client), Msisdn="0708374149x")
    assert bad.status_code == 400 and bad.get_json()["errorMessage"] == "Bad Request - Invalid Msisdn"
    bad = simulate(emu_client, bearer(emu_client), CommandID="CustomerPayBill")
    assert bad.get_json()["errorMessage"] == "Bad Request - Invalid CommandID"
    add_app(emu_client, consumer_key="live", environment="production")
    live = simulate(emu_client, bearer(emu_client, key="live", secret="secret"))
    assert live.status_code == 404
