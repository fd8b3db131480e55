"""STK follow-up: queries while no callback came, a final state that never changes, the
receipt of a success known only from a query (C2B row or Transaction Status), expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import responses
import sqlalchemy as sa

from loyalty import background
from loyalty.background import TaskName
from loyalty.phones import hash_msisdn
from loyalty.services import crediting, reconciliation, stk, stk_receipts
from loyalty.tenancy import tenant_context
from tests.conftest import auth
from tests.integration.conftest import JOHN, c2b_body

DARAJA = "https://sandbox.daraja.test"
PUSH = f"{DARAJA}/mpesa/stkpush/v1/processrequest"
QUERY = f"{DARAJA}/mpesa/stkpushquery/v1/query"
STATUS = f"{DARAJA}/mpesa/transactionstatus/v1/query"
PULL = f"{DARAJA}/pulltransactions/v1/query"
PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
STILL_WAITING = {"requestId": "1", "errorCode": "500.001.1001",
                 "errorMessage": "The transaction is being processed"}


@pytest.fixture
def shop(acme, db_session, recorded_tasks):
    changes = {"passkey": PASSKEY}
    acme.api("PATCH", f"/mpesa-channels/{acme.channel['id']}", json=changes)
    _activate(db_session)
    return acme


def _activate(db_session):
    db_session.execute(sa.text("UPDATE mpesa_channels SET status='active', is_active=true, "
                               "verification_state='done', urls_state='done'"))


@pytest.fixture
def daraja():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, f"{DARAJA}/oauth/v1/generate",
                 json={"access_token": "t", "expires_in": "3599"})
        yield mock


def _push(shop, daraja, answer: dict | None = None, status: int = 200) -> int:
    created = shop.api("POST", f"/mpesa-channels/{shop.channel['id']}/stk-push",
                       json={"phone": "0712345678", "amount": "100", "account_reference": "VIP7"})
    assert created.status_code == 202
    daraja.add(responses.POST, PUSH, status=status, json=answer or {
        "MerchantRequestID": "m-1", "CheckoutRequestID": "ws_CO_1", "ResponseCode": "0",
        "ResponseDescription": "Success. Request accepted for processing",
        "CustomerMessage": "Success. Request accepted for processing"})
    with tenant_context(shop.merchant_id):
        stk.send_stk_push(created.get_json()["id"])
    return created.get_json()["id"]


def _query(shop, request_id: int, step: int) -> None:
    with tenant_context(shop.merchant_id):
        stk.query_stk_push(request_id, step)


def _answer(daraja, code: str, desc: str) -> None:
    daraja.add(responses.POST, QUERY, json={
        "ResponseCode": "0", "ResponseDescription": "The service request has been accepted",
        "MerchantRequestID": "m-1", "CheckoutRequestID": "ws_CO_1", "ResultCode": code,
        "ResultDesc": desc})


def _request(shop, request_id: int) -> dict:
    response = shop.api("GET", f"/payment-requests/{request_id}")
    assert response.status_code == 200
    return response.get_json()


def _callback(code=0, receipt="NLJ7RT61SV", amount=100):
    callback = {"MerchantRequestID": "m-1", "CheckoutRequestID": "ws_CO_1", "ResultCode": code,
                "ResultDesc": "The service request is processed successfully." if code == 0
                else "Request cancelled by user"}
    if code == 0:
        callback["CallbackMetadata"] = {"Item": [
            {"Name": "Amount", "Value": amount}, {"Name": "MpesaReceiptNumber", "Value": receipt},
            {"Name": "PhoneNumber", "Value": int(JOHN)}]}
    return {"Body": {"stkCallback": callback}}


def _earns(db_session) -> int:
    return db_session.execute(sa.text(
        "SELECT count(*) FROM ledger_entries WHERE kind = 'earn'")).scalar()


def _payments(db_session) -> list:
    return db_session.execute(sa.text(
        "SELECT trans_id, source, status, points FROM payments ORDER BY id")).all()


def test_without_a_callback_the_worker_queries_at_30s_2min_10min_and_1h(shop, daraja,
                                                                        recorded_tasks):
    request_id = _push(shop, daraja)
    for step in range(4):
        name, args, countdown = recorded_tasks[-1]
        assert (name, args) == (TaskName.STK_QUERY, (shop.merchant_id, request_id, step))
        assert countdown == pytest.approx(stk.QUERY_AFTER[step], abs=5)
        daraja.add(responses.POST, QUERY, status=500, json=STILL_WAITING)
        _query(shop, request_id, step)
    queries = [c for c in daraja.calls if c.request.url == QUERY]
    queued = [p for p in recorded_tasks if p[0] == TaskName.STK_QUERY]
    assert len(queries) == 4 and len(queued) == 4  # no fifth query: expiry decides
    assert json.loads(queries[0].request.body)["CheckoutRequestID"] == "ws_CO_1"
    # A redelivered message of a step already done asks Safaricom nothing.
    _query(shop, request_id, 1)
    assert len([c for c in daraja.calls if c.request.url == QUERY]) == 4
    assert _request(shop, request_id)["status"] == "pending"


@pytest.mark.parametrize("code, desc, status", [
    ("1032", "[STK_CB - ]Request cancelled by user", "cancelled"),
    ("1037", "DS timeout user cannot be reached", "failed"),
    ("0", "The service request is processed successfully.", "succeeded"),
])
def test_a_query_settles_the_request(shop, daraja, recorded_tasks, code, desc, status):
    request_id = _push(shop, daraja)
    _answer(daraja, code, desc)
    _query(shop, request_id, 0)
    shown = _request(shop, request_id)
    assert (shown["status"], shown["result_code"], shown["result_desc"]) == (status, code, desc)
    assert shown["finished_at"] is not None and shown["receipt"] is None
    assert [p[0] for p in recorded_tasks][-1] == (
        TaskName.STK_FIND_RECEIPT if status == "succeeded" else TaskName.STK_QUERY)


def test_a_rate_limited_push_is_failed_not_pending(shop, daraja, recorded_tasks):
    request_id = _push(shop, daraja, status=500, answer={
        "requestId": "1", "errorCode": "500.003.02", "errorMessage": "Spike arrest violation"})
    shown = _request(shop, request_id)
    assert (shown["status"], shown["result_code"]) == ("failed", "500.003.02")
    assert "not asked to pay" in shown["result_desc"]
    assert [p[0] for p in recorded_tasks] == [TaskName.STK_PUSH]  # no prompt reached the phone


def test_a_final_state_never_changes(shop, daraja, db_session, recorded_tasks):
    request_id = _push(shop, daraja)
    assert shop.hook("stk", _callback(receipt="FIRST00001")).status_code == 200
    # A second callback with another receipt, a cancellation, a query: none changes it.
    for body in (_callback(receipt="OTHER00002"), _callback(code="1032")):
        answered = shop.hook("stk", body)
        assert answered.get_json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    _query(shop, request_id, 0)
    assert [c for c in daraja.calls if c.request.url == QUERY] == []
    shown = _request(shop, request_id)
    assert (shown["status"], shown["receipt"]) == ("succeeded", "FIRST00001")
    assert [p.trans_id for p in _payments(db_session)] == ["FIRST00001"]
    assert shown["payment_id"] == db_session.execute(sa.text("SELECT id FROM payments")).scalar()
    logged = db_session.execute(sa.text(
        "SELECT kind, status_code, error FROM callback_log ORDER BY id")).all()
    assert [(k, s) for k, s, _ in logged] == [("stk_result", 200), ("stk_result", 200)]
    assert "already paid with receipt FIRST00001" in logged[0].error
    assert "OTHER00002" in logged[0].error


def test_a_success_after_a_cancelled_query_is_logged_not_credited(shop, daraja, db_session):
    request_id = _push(shop, daraja)
    _answer(daraja, "1032", "Request cancelled by user")
    _query(shop, request_id, 0)
    assert shop.hook("stk", _callback(receipt="LATE000001")).status_code == 200
    assert _request(shop, request_id)["status"] == "cancelled"
    assert _payments(db_session) == []
    error = db_session.execute(sa.text("SELECT error FROM callback_log")).scalar()
    assert "already cancelled (1032)" in error and "LATE000001" in error


def _succeeded_without_a_receipt_yet(shop, daraja, recorded_tasks) -> int:
    """A push whose success is known only from a query: its receipt is looked for at once,
    and not found yet (nothing to match, no initiator to ask)."""
    request_id = _push(shop, daraja)
    _answer(daraja, "0", "The service request is processed successfully.")
    _query(shop, request_id, 0)
    assert recorded_tasks[-1] == (TaskName.STK_FIND_RECEIPT, (shop.merchant_id, request_id, 0), 0.0)
    with tenant_context(shop.merchant_id):
        stk_receipts.find_receipt(request_id, 0)
    assert _request(shop, request_id)["receipt"] is None
    return request_id


def _found_then_called_back(shop, db_session, request_id: int, receipt: str) -> None:
    """The next look finds `receipt` and settles the request with its payment; the STK
    callback arriving late brings the same receipt: the same payment, not a second."""
    with tenant_context(shop.merchant_id):
        stk_receipts.find_receipt(request_id, 1)
    shown = _request(shop, request_id)
    payment_id = db_session.execute(sa.text("SELECT id FROM payments")).scalar()
    assert (shown["status"], shown["receipt"], shown["payment_id"]) == (
        "succeeded", receipt, payment_id)
    shop.hook("stk", _callback(receipt=receipt))
    crediting.credit_waiting()


def test_a_success_known_only_from_a_query_is_credited_once_when_the_c2b_row_arrives(
        shop, daraja, db_session, recorded_tasks):
    request_id = _succeeded_without_a_receipt_yet(shop, daraja, recorded_tasks)
    assert recorded_tasks[-1][:2] == (TaskName.STK_FIND_RECEIPT, (shop.merchant_id, request_id, 1))
    # Safaricom also confirms the STK payment to the shortcode's C2B URL.
    shop.hook("c2b/confirmation", c2b_body(trans_id="QRY0000001", amount="100.00",
                                           bill_ref="VIP7", msisdn=hash_msisdn(JOHN)))
    crediting.credit_waiting()
    _found_then_called_back(shop, db_session, request_id, "QRY0000001")
    assert _payments(db_session) == [("QRY0000001", "c2b", "credited", 2)]
    assert _earns(db_session) == 1
    assert [c for c in daraja.calls if c.request.url == STATUS] == []


def test_a_success_known_only_from_a_query_is_credited_once_from_the_pull_row(
        shop, daraja, db_session, recorded_tasks):
    request_id = _succeeded_without_a_receipt_yet(shop, daraja, recorded_tasks)
    # Its C2B confirmation never came either: reconciliation recovers it from Pull.
    db_session.execute(sa.text("UPDATE mpesa_channels SET pull_state = 'done', "
                               "pull_nominated_number = '254722000111'"))
    daraja.add(responses.POST, PULL, json={
        "ResponseRefID": "r-1", "ResponseCode": "1000", "ResponseMessage": "Success",
        "Response": [[{"transactionId": "PULLSTK001", "msisdn": int(JOHN),
                       "trxDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "transactiontype": "c2b-pay-bill-debit", "billreference": "VIP7",
                       "amount": "100.00", "organizationname": "Acme"}]]})
    daraja.add(responses.POST, PULL, json={"ResponseRefID": "r-2", "ResponseCode": "1001",
                                           "ResponseMessage": "No records", "Response": [[]]})
    with tenant_context(shop.merchant_id):
        run = reconciliation.start_reconciliation(shop.channel["id"])
        reconciliation.reconcile(run.id)
        assert reconciliation.get_run(run.id).recovered == 1
    crediting.credit_waiting()
    _found_then_called_back(shop, db_session, request_id, "PULLSTK001")
    assert _payments(db_session) == [("PULLSTK001", "pull", "credited", 2)]
    assert _earns(db_session) == 1


def test_two_payments_that_could_match_are_left_alone(shop, daraja, db_session):
    request_id = _push(shop, daraja)
    for receipt in ("TWIN000001", "TWIN000002"):
        shop.hook("c2b/confirmation", c2b_body(trans_id=receipt, amount="100.00", bill_ref="X",
                                               msisdn=hash_msisdn(JOHN)))
    _answer(daraja, "0", "ok")
    _query(shop, request_id, 0)
    assert _request(shop, request_id)["receipt"] is None  # a guess could be the wrong one


def test_transaction_status_supplies_the_receipt_and_it_is_credited_once(
        shop, daraja, db_session, recorded_tasks, client):
    shop.api("PATCH", f"/mpesa-channels/{shop.channel['id']}",
             json={"initiator_name": "testapi", "initiator_password": "Safaricom999!*!"})
    _activate(db_session)
    request_id = _push(shop, daraja)
    _answer(daraja, "0", "The service request is processed successfully.")
    _query(shop, request_id, 0)
    daraja.add(responses.POST, STATUS, json={
        "OriginatorConversationID": "ts-1", "ConversationID": "AG_TS_1", "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully."})
    with tenant_context(shop.merchant_id):
        stk_receipts.find_receipt(request_id, 0)
    asked = json.loads([c for c in daraja.calls if c.request.url == STATUS][0].request.body)
    assert (asked["OriginalConversationID"], asked["TransactionID"]) == ("ws_CO_1", "")
    assert asked["ResultURL"].endswith(f"/hooks/{shop.channel['callback_token']}/result/status")
    result = {"Result": {
        "ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed.",
        "OriginatorConversationID": "ts-1", "ConversationID": "AG_TS_1",
        "TransactionID": "OEI2AK4XX1", "ResultParameters": {"ResultParameter": [
            {"Key": "ReceiptNo", "Value": "TSR0000001"},
            {"Key": "TransactionStatus", "Value": "Completed"},
            {"Key": "Amount", "Value": 100}, {"Key": "FinalisedTime", "Value": 20261126102115}]}}}
    for _ in range(2):  # a second copy of the result is kept and changes nothing
        assert shop.hook("result/status", result).status_code == 200
    crediting.credit_waiting()
    # The C2B confirmation of the same receipt is a duplicate.
    shop.hook("c2b/confirmation", c2b_body(trans_id="TSR0000001", amount="100.00",
                                           bill_ref="VIP7", msisdn=hash_msisdn(JOHN)))
    crediting.credit_waiting()
    assert _payments(db_session) == [("TSR0000001", "stk", "credited", 2)]
    assert _earns(db_session) == 1
    shown = _request(shop, request_id)
    assert (shown["status"], shown["receipt"]) == ("succeeded", "TSR0000001")
    notes = db_session.execute(sa.text(
        "SELECT error FROM callback_log WHERE kind = 'result_status' ORDER BY id")).scalars().all()
    assert notes[0] is None and "answered already" in notes[1]


def test_a_request_still_pending_after_24_hours_expires(shop, daraja, db_session, recorded_tasks):
    request_id = _push(shop, daraja)
    db_session.execute(sa.text("UPDATE payment_requests SET created_at = now() - interval "
                               "'25 hours', next_check_at = NULL"))
    background.run_here(TaskName.SWEEP_STK_REQUESTS)
    shown = _request(shop, request_id)
    assert shown["status"] == "expired" and "24 hours" in shown["result_desc"]
    shop.hook("stk", _callback(receipt="TOOLATE001"))
    assert _request(shop, request_id)["status"] == "expired"
    assert _payments(db_session) == []


def test_the_sweep_queues_a_lost_follow_up_again(shop, daraja, db_session, recorded_tasks):
    request_id = _push(shop, daraja)
    db_session.execute(sa.text("UPDATE payment_requests SET query_step = 2, "
                               "next_check_at = now() - interval '20 minutes'"))
    recorded_tasks.clear()
    background.run_here(TaskName.SWEEP_STK_REQUESTS)
    assert recorded_tasks == [(TaskName.STK_QUERY, (shop.merchant_id, request_id, 2), None)]


def test_a_payment_request_is_the_merchants_own(shop, daraja, client, merchant_b):
    request_id = _push(shop, daraja)
    assert _request(shop, request_id)["status"] == "pending"
    other = client.get(f"/api/v1/payment-requests/{request_id}", headers=auth(merchant_b[1]))
    assert other.status_code == 404
    assert shop.api("GET", "/payment-requests/999999").status_code == 404
