"""Pull Transactions at the emulator (DARAJA.md 4.8): registration, paging, the 48-hour
window, the documented shapes, and confirmations lost on the way."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.unit.emulator.conftest import TEST_PHONE, add_app, bearer, register

REGISTER = "/_emulator/daraja/pulltransactions/v1/register"
QUERY = "/_emulator/daraja/pulltransactions/v1/query"
EAT = "%Y-%m-%d %H:%M:%S"


def nairobi(moment: datetime) -> str:
    return moment.astimezone(timezone(timedelta(hours=3))).strftime(EAT)


def pull_register(client, headers, shortcode="600000", **fields):
    body = {"ShortCode": shortcode, "RequestType": "Pull", "NominatedNumber": "0722000000",
            "CallBackURL": "https://cb.test/hooks/ab12/result/pull", **fields}
    return client.post(REGISTER, headers=headers, json=body)


def pull_query(client, headers, shortcode="600000", hours=24, offset=0, **fields):
    now = datetime.now(UTC)
    body = {"ShortCode": shortcode, "StartDate": nairobi(now - timedelta(hours=hours)),
            "EndDate": nairobi(now + timedelta(minutes=1)), "OffSetValue": offset, **fields}
    return client.post(QUERY, headers=headers, json=body)


def pay(client, trans_id, amount=500, **fields):
    answer = client.post("/_emulator/control/c2b-payment", json={
        "ShortCode": "600000", "Amount": amount, "Msisdn": TEST_PHONE, "BillRefNumber": "VIP001",
        "TransID": trans_id, **fields})
    assert answer.status_code == 202, answer.get_json()


def test_register_answers_1000_then_1001(emu_client):
    headers = bearer(emu_client)
    first = pull_register(emu_client, headers)
    assert first.status_code == 200
    assert (first.get_json()["ResponseStatus"], first.get_json()["ShortCode"]) == ("1000", "600000")
    again = pull_register(emu_client, headers).get_json()
    assert (again["ResponseStatus"], again["ResponseDescription"]) == (
        "1001", "ShortCode already Registered")
    stored = emu_client.get("/_emulator/state").get_json()["pull_registrations"]["600000"]
    assert stored["NominatedNumber"] == "254722000000"


@pytest.mark.parametrize("fields, complaint", [
    ({"RequestType": "Push"}, "RequestType"),
    ({"NominatedNumber": "600000"}, "NominatedNumber"),
    ({"CallBackURL": "https://cb.test/mpesa/pull"}, "forbidden word"),
    ({"ShortCode": "12"}, "ShortCode"),
])
def test_register_refuses_what_safaricom_refuses(emu_client, fields, complaint):
    answer = pull_register(emu_client, bearer(emu_client), **fields)
    assert answer.status_code == 400 and complaint in answer.get_json()["errorMessage"]


def test_an_app_without_the_pull_product_is_refused(emu_client):
    add_app(emu_client, consumer_key="no-pull", consumer_secret="s", products=["c2b_v2"])
    answer = pull_register(emu_client, bearer(emu_client, key="no-pull", secret="s"))
    assert (answer.status_code, answer.get_json()["errorCode"]) == (401, "401.003.01")


def test_an_unregistered_shortcode_cannot_be_queried(emu_client):
    answer = pull_query(emu_client, bearer(emu_client))
    assert (answer.status_code, answer.get_json()["errorCode"]) == (400, "400.001")


def test_query_serves_completed_payments_in_the_documented_shape(emu_client, emu, receiver):
    headers = bearer(emu_client)
    pull_register(emu_client, headers)
    register(emu_client, headers, "600000", receiver.url)
    pay(emu_client, "PULLROW001", amount=168)
    emu.dispatcher.join()
    body = pull_query(emu_client, headers).get_json()
    assert (body["ResponseCode"], body["ResponseMessage"]) == ("1000", "Success")
    [[row]] = body["Response"]
    assert row["transactionId"] == "PULLROW001"
    assert row["transactiontype"] == "c2b-pay-bill-debit"
    assert (row["amount"], row["billreference"], row["msisdn"]) == ("168.00", "VIP001",
                                                                     int(TEST_PHONE))
    assert row["trxDate"].endswith("Z")
    moment = datetime.strptime(row["trxDate"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(moment - datetime.now(UTC)) < timedelta(minutes=1)


def test_an_empty_window_is_1001_with_nested_empty_rows(emu_client):
    headers = bearer(emu_client)
    pull_register(emu_client, headers)
    body = pull_query(emu_client, headers).get_json()
    assert (body["ResponseCode"], body["Response"]) == ("1001", [[]])


def test_paging_by_row_offset_until_an_empty_page(emu_client):
    headers = bearer(emu_client)
    pull_register(emu_client, headers)
    now = time.time()
    emu_client.post("/_emulator/control/settings", json={"pull_page_size": 40})
    answer = emu_client.post("/_emulator/control/pull-rows", json={
        "ShortCode": "600000", "count": 100, "from": now - 3600, "to": now - 60,
        "prefix": "BULK"})
    assert answer.status_code == 201
    seen, offset = [], 0
    while True:
        rows = pull_query(emu_client, headers, offset=offset).get_json()["Response"][0]
        if not rows:
            break
        seen += [row["transactionId"] for row in rows]
        offset += len(rows)
    assert seen == [f"BULK{n:08d}" for n in range(100)]


def test_only_the_last_48_hours_are_served(emu_client):
    headers = bearer(emu_client)
    pull_register(emu_client, headers)
    now = time.time()
    emu_client.post("/_emulator/control/pull-rows", json={
        "ShortCode": "600000", "count": 2, "from": now - 50 * 3600, "to": now - 47 * 3600,
        "prefix": "OLD"})
    rows = pull_query(emu_client, headers, hours=60).get_json()["Response"][0]
    assert [row["transactionId"] for row in rows] == ["OLD00000001"]


@pytest.mark.parametrize("fields", [{"StartDate": "yesterday"}, {"OffSetValue": -1},
                                    {"OffSetValue": None}, {"EndDate": "2026-13-01 00:00:00"}])
def test_bad_query_fields_are_400(emu_client, fields):
    headers = bearer(emu_client)
    pull_register(emu_client, headers)
    answer = pull_query(emu_client, headers, **fields)
    assert (answer.status_code, answer.get_json()["errorCode"]) == (400, "400.002.02")


def test_the_documents_loose_dates_are_accepted(emu_client):
    headers = bearer(emu_client)
    pull_register(emu_client, headers)
    answer = emu_client.post(QUERY, headers=headers, json={
        "ShortCode": "600000", "StartDate": "2020-08-04 8:36:00", "EndDate": "2020-08-16 10:10:000",
        "OffSetValue": "0"})
    assert answer.status_code == 200 and answer.get_json()["ResponseCode"] == "1001"


def test_a_dropped_confirmation_is_never_sent_but_pull_lists_the_payment(emu_client, emu,
                                                                        receiver):
    headers = bearer(emu_client)
    register(emu_client, headers, "600000", receiver.url)
    pull_register(emu_client, headers)
    assert emu_client.post("/_emulator/control/drop-confirmations",
                           json={"count": 1}).get_json() == {"always": False, "next": 1}
    pay(emu_client, "LOSTCONF01")
    pay(emu_client, "KEPTCONF01")
    emu.dispatcher.join()
    delivered = [body["TransID"] for body in receiver.wait("/confirm")]
    deliveries = emu_client.get("/_emulator/state").get_json()["callback_deliveries"]
    lost = [d["ref"] for d in deliveries if d["error"] and "lost on the way" in d["error"]]
    assert len(delivered) == 1 and len(lost) == 1  # the next one only, whichever came first
    assert sorted(delivered + lost) == ["KEPTCONF01", "LOSTCONF01"]
    rows = pull_query(emu_client, headers).get_json()["Response"][0]
    assert {row["transactionId"] for row in rows} == {"LOSTCONF01", "KEPTCONF01"}


def test_a_payment_can_ask_to_lose_its_own_confirmation(emu_client, emu, receiver):
    headers = bearer(emu_client)
    register(emu_client, headers, "600000", receiver.url)
    pay(emu_client, "OWNLOST001", DropConfirmation=True)
    pay(emu_client, "OWNKEPT001")
    emu.dispatcher.join()
    assert [body["TransID"] for body in receiver.wait("/confirm")] == ["OWNKEPT001"]


def test_always_drop_loses_every_confirmation_until_switched_off(emu_client, emu, receiver):
    headers = bearer(emu_client)
    register(emu_client, headers, "600000", receiver.url)
    emu_client.post("/_emulator/control/drop-confirmations", json={"always": True})
    pay(emu_client, "ALWAYS0001")
    emu.dispatcher.join()
    emu_client.post("/_emulator/control/drop-confirmations", json={"always": False})
    pay(emu_client, "ALWAYS0002")
    emu.dispatcher.join()
    assert [body["TransID"] for body in receiver.wait("/confirm")] == ["ALWAYS0002"]
