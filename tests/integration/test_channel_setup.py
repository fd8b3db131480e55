"""Verify, register URLs and health checks against Daraja mocked at the HTTP edge."""

import base64
import json
import logging
import time
from types import SimpleNamespace

import pytest
import responses
import sqlalchemy as sa

from loyalty.background import TaskName, pending
from loyalty.daraja.errors import DarajaUnavailable
from loyalty.extensions import db
from loyalty.schemas import channels as channel_schemas
from loyalty.services import channel_setup
from loyalty.tenancy import tenant_context
from loyalty.unit_of_work import unit_of_work
from tests.conftest import auth
from tests.integration.conftest import published
from tests.integration.test_channels_api import SECRET, paybill

DARAJA = "https://sandbox.daraja.test"
OAUTH = f"{DARAJA}/oauth/v1/generate?grant_type=client_credentials"


@pytest.fixture
def channel(client, merchant_a):
    merchant, key = merchant_a
    body = client.post("/api/v1/mpesa-channels", headers=auth(key), json=paybill(
        consumer_key=f"ck-{merchant['id']}-WXYZ")).get_json()
    with tenant_context(merchant["id"]):
        yield body


@pytest.fixture
def daraja():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _token(daraja, token="tok-123"):
    daraja.add(responses.GET, OAUTH, json={"access_token": token, "expires_in": "3599"})


def _state(db_session, channel_id):
    return db_session.execute(sa.text(
        "SELECT status, verification_state, verification_error, verification_details, urls_state, "
        "urls_error, c2b_version, health_state, health_error, is_active FROM mpesa_channels "
        "WHERE id = :id"), {"id": channel_id}).mappings().one()


def test_verify_queues_a_task_after_commit(client, merchant_a, channel, db_session):
    response = client.post(f"/api/v1/mpesa-channels/{channel['id']}/verify", headers=auth(merchant_a[1]))
    assert response.status_code == 202
    assert response.get_json()["verification"]["state"] == "pending"


def test_verify_marks_the_channel_verified(channel, daraja, db_session, caplog):
    _token(daraja)
    with caplog.at_level(logging.DEBUG):
        channel_setup.verify_channel(channel["id"])
    sent = daraja.calls[0].request
    assert sent.headers["Authorization"].startswith("Basic ")
    user, _, password = base64.b64decode(sent.headers["Authorization"][6:]).decode().partition(":")
    assert user.endswith("-WXYZ") and password == SECRET
    state = _state(db_session, channel["id"])
    assert state["status"] == "verified" and state["verification_state"] == "done"
    assert state["verification_details"]["shortcode"] == "174379"
    assert state["verification_details"]["account_balance_accessible"] is False
    assert SECRET not in caplog.text and "tok-123" not in caplog.text


def test_a_verification_that_succeeds_after_a_failure_leaves_no_error(channel, daraja,
                                                                      db_session):
    daraja.add(responses.GET, OAUTH, status=400, json={"errorMessage": "Invalid credentials"})
    channel_setup.verify_channel(channel["id"])
    failed = db_session.execute(sa.text(
        "SELECT verification_state, verification_error_code FROM mpesa_channels WHERE id = :id"),
        {"id": channel["id"]}).one()
    assert failed.verification_state == "failed" and failed.verification_error_code
    daraja.replace(responses.GET, OAUTH, json={"access_token": "tok-1", "expires_in": "3599"})
    channel_setup.verify_channel(channel["id"])
    assert db_session.execute(sa.text(
        "SELECT verification_state, verification_error, verification_error_code "
        "FROM mpesa_channels WHERE id = :id"), {"id": channel["id"]}).one() == ("done", None, None)


def test_verify_with_an_initiator_asks_for_the_balance(client, merchant_a, daraja, db_session):
    merchant, key = merchant_a
    created = client.post("/api/v1/mpesa-channels", headers=auth(key), json=paybill(
        initiator_name="testapi", initiator_password="Safaricom999!*!")).get_json()
    _token(daraja)
    daraja.add(responses.POST, f"{DARAJA}/mpesa/accountbalance/v1/query", json={
        "OriginatorConversationID": "1-2-3", "ConversationID": "AG_1", "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully."})
    with tenant_context(merchant["id"]):
        channel_setup.verify_channel(created["id"])
    balance = daraja.calls[1].request
    assert balance.headers["Authorization"] == "Bearer tok-123"
    body = json.loads(balance.body)
    assert body["Initiator"] == "testapi" and body["CommandID"] == "AccountBalance"
    assert body["PartyA"] == "174379" and body["IdentifierType"] == "4"
    assert body["ResultURL"] == created["callback_urls"]["confirmation_url"].replace(
        "c2b/confirmation", "result/balance")
    assert len(base64.b64decode(body["SecurityCredential"])) in (256, 512)
    assert "Safaricom999" not in balance.body.decode()
    details = _state(db_session, created["id"])["verification_details"]
    # Safaricom only queued the query: the initiator is known to work once the result says so.
    assert details["account_balance_accessible"] is False
    assert details["account_balance"] == "pending"
    result_path = body["ResultURL"].split("loyalty.example.com", 1)[1]
    answered = client.post(result_path, json=_balance_result("AG_1", "1-2-3", 0))
    assert answered.get_json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    details = _state(db_session, created["id"])["verification_details"]
    assert details["account_balance_accessible"] is True
    assert details["account_balance"] == "accessible"
    shown = client.get(f"/api/v1/mpesa-channels/{created['id']}", headers=auth(key)).get_json()
    assert shown["verification"]["details"]["account_balance_accessible"] is True


def _balance_result(conversation: str, originator: str, code, desc: str = "ok") -> dict:
    return {"Result": {
        "ResultType": 0, "ResultCode": code, "ResultDesc": desc,
        "OriginatorConversationID": originator, "ConversationID": conversation,
        "TransactionID": "OEI2AK4Q16", "ResultParameters": {"ResultParameter": [
            {"Key": "AccountBalance",
             "Value": "Working Account|KES|700000.00|700000.00|0.00|0.00"},
            {"Key": "BOCompletedTime", "Value": 20200109125710}]}}}


@pytest.mark.parametrize("path, result, state, error", [
    ("result/balance", _balance_result("AG_7", "7-7", 2001, "The initiator information is invalid."),
     "refused", "The initiator information is invalid. (2001)"),
    ("timeout/balance", {"Result": {"ResultCode": "1", "OriginatorConversationID": "7-7",
                                    "ConversationID": "AG_7"}},
     "timed_out", "queue timed out"),
])
def test_a_refused_or_timed_out_balance_check_is_not_accessible(
        client, merchant_a, daraja, db_session, path, result, state, error):
    merchant, key = merchant_a
    created = client.post("/api/v1/mpesa-channels", headers=auth(key), json=paybill(
        initiator_name="testapi", initiator_password="Safaricom999!*!")).get_json()
    _token(daraja)
    daraja.add(responses.POST, f"{DARAJA}/mpesa/accountbalance/v1/query", json={
        "OriginatorConversationID": "7-7", "ConversationID": "AG_7", "ResponseCode": "0"})
    with tenant_context(merchant["id"]):
        channel_setup.verify_channel(created["id"])
    token = created["callback_urls"]["confirmation_url"].split("/hooks/")[1].split("/")[0]
    assert client.post(f"/hooks/{token}/{path}", json=result).status_code == 200
    details = _state(db_session, created["id"])["verification_details"]
    assert details["account_balance_accessible"] is False
    assert details["account_balance"] == state and error in details["account_balance_error"]
    # A second copy of the same result changes nothing more, and says so in the log.
    assert client.post(f"/hooks/{token}/{path}", json=result).status_code == 200
    notes = db_session.execute(sa.text(
        "SELECT error FROM callback_log ORDER BY id")).scalars().all()
    assert notes[0] is None and "answered already" in notes[1]


def test_wrong_credentials_end_as_a_clear_failure(channel, daraja, db_session):
    daraja.add(responses.GET, OAUTH, status=400, body="")
    channel_setup.verify_channel(channel["id"])
    state = _state(db_session, channel["id"])
    assert state["verification_state"] == "failed" and state["status"] == "configured"
    assert "refused the consumer key and secret" in state["verification_error"]


def test_safaricom_down_is_retried_then_recorded(channel, daraja, db_session):
    daraja.add(responses.GET, OAUTH, status=503, body="<html><body>Service Unavailable</body></html>",
               content_type="text/html")
    with pytest.raises(DarajaUnavailable):
        channel_setup.verify_channel(channel["id"], final_attempt=False)
    assert _state(db_session, channel["id"])["verification_state"] == "none"
    channel_setup.verify_channel(channel["id"], final_attempt=True)
    state = _state(db_session, channel["id"])
    assert state["verification_state"] == "failed"
    assert "could not be reached" in state["verification_error"]


def _verified(db_session, channel_id):
    db_session.execute(sa.text("UPDATE mpesa_channels SET verification_state='done', "
                               "status='verified' WHERE id = :id"), {"id": channel_id})


def test_register_urls_needs_a_verified_channel(client, merchant_a, channel, db_session):
    url = f"/api/v1/mpesa-channels/{channel['id']}/register-urls"
    response = client.post(url, headers=auth(merchant_a[1]), json={})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "not_verified" and "Verify the channel" in error["message"]
    assert _state(db_session, channel["id"])["urls_state"] == "none"  # nothing queued
    _verified(db_session, channel["id"])
    assert client.post(url, headers=auth(merchant_a[1]), json={}).status_code == 202


def test_register_urls_falls_back_to_v1_and_remembers_it(client, merchant_a, channel, daraja, db_session):
    _verified(db_session, channel["id"])
    response = client.post(f"/api/v1/mpesa-channels/{channel['id']}/register-urls",
                           headers=auth(merchant_a[1]), json={})
    assert response.status_code == 202
    _token(daraja)
    daraja.add(responses.POST, f"{DARAJA}/mpesa/c2b/v2/registerurl", status=401, json={
        "requestId": "1", "errorCode": "401.003.01",
        "errorMessage": "Invalid Access Token - Invalid API call as no apiproduct match found"})
    daraja.add(responses.POST, f"{DARAJA}/mpesa/c2b/v1/registerurl", json={
        "OriginatorCoversationID": "7619-37765134-1", "ResponseCode": "0",
        "ResponseDescription": "Success"})
    channel_setup.register_urls(channel["id"])
    v1 = json.loads(daraja.calls[-1].request.body)
    assert v1 == {"ShortCode": "174379", "ResponseType": "Completed",
                  "ConfirmationURL": channel["callback_urls"]["confirmation_url"],
                  "ValidationURL": channel["callback_urls"]["validation_url"]}
    state = _state(db_session, channel["id"])
    assert state["urls_state"] == "done" and state["c2b_version"] == "v1"


def test_a_production_platform_refuses_local_and_plain_http_urls_for_any_channel(
        app, client, merchant_a, channel, db_session, monkeypatch):
    """With APP_ENV=production even a sandbox channel's URLs must be https and public, so a
    loopback PUBLIC_BASE_URL or a typed http:// address is refused before Safaricom is asked."""
    _verified(db_session, channel["id"])
    url = f"/api/v1/mpesa-channels/{channel['id']}/register-urls"
    local = {"confirmation_url": "http://127.0.0.1:8001/hooks/ab12/c2b/confirmation",
             "validation_url": "https://10.1.2.3/hooks/ab12/c2b/validation"}
    # A development platform lets the sandbox channel use them (the local emulator; the
    # confirmation URL stays ours, as every platform requires: see the relay tests)...
    assert client.post(url, headers=auth(merchant_a[1]),
                       json={"validation_url": local["validation_url"]}).status_code == 202
    # ...a production one does not (what init_app sets from APP_ENV=production).
    monkeypatch.setattr(app.extensions["daraja"], "public_urls_only", True)
    refused = client.post(url, headers=auth(merchant_a[1]), json=local)
    assert refused.status_code == 422
    fields = refused.get_json()["error"]["fields"]
    assert "https://" in fields["confirmation_url"][0]
    assert "Safaricom cannot reach '10.1.2.3'" in fields["validation_url"][0]
    # The platform's own https URLs pass.
    assert client.post(url, headers=auth(merchant_a[1]), json={}).status_code == 202


def test_the_daraja_client_applies_the_platforms_url_rules(app, channel, monkeypatch):
    from loyalty import daraja
    from loyalty.daraja.errors import InvalidRequest

    monkeypatch.setattr(app.extensions["daraja"], "public_urls_only", True)
    client = daraja.client_for(environment="sandbox", consumer_key="k", consumer_secret="s")
    with pytest.raises(InvalidRequest) as caught:  # refused before any request is sent
        client.register_c2b_urls(shortcode="174379",
                                 confirmation_url="http://localhost:5000/hooks/ab12/c",
                                 validation_url="https://loyalty.example.com/hooks/ab12/v")
    assert caught.value.field == "confirmation_url"


def test_urls_already_registered_tells_the_merchant_how_to_clear_it(client, merchant_a, channel,
                                                                    daraja, db_session):
    _verified(db_session, channel["id"])
    client.post(f"/api/v1/mpesa-channels/{channel['id']}/register-urls", headers=auth(merchant_a[1]),
                json={})
    _token(daraja)
    daraja.add(responses.POST, f"{DARAJA}/mpesa/c2b/v2/registerurl", status=500, json={
        "requestId": "1", "errorCode": "500.003.1001", "errorMessage": "Urls are already registered"})
    channel_setup.register_urls(channel["id"])
    state = _state(db_session, channel["id"])
    assert state["urls_state"] == "failed"
    assert "apisupport@safaricom.co.ke" in state["urls_error"] or "URL management" in state["urls_error"]


def test_a_failed_registration_is_the_channels_urls_error_with_a_code(client, merchant_a, channel,
                                                                     daraja, db_session):
    # Issue 15: a step's failure is {code, message} inside the channel JSON, never a bare
    # string beside it, so a client can branch on the code and show the sentence.
    _verified(db_session, channel["id"])
    url = f"/api/v1/mpesa-channels/{channel['id']}"
    assert client.post(f"{url}/register-urls", headers=auth(merchant_a[1]),
                       json={}).status_code == 202
    _token(daraja)
    daraja.add(responses.POST, f"{DARAJA}/mpesa/c2b/v2/registerurl", status=500, json={
        "requestId": "1", "errorCode": "500.003.1001", "errorMessage": "Urls are already registered"})
    channel_setup.register_urls(channel["id"])
    shown = client.get(url, headers=auth(merchant_a[1])).get_json()
    assert shown["urls"]["state"] == "failed" and "error" not in shown
    error = shown["urls"]["error"]
    assert set(error) == {"code", "message"} and error["code"] == "urls_already_registered"
    assert error["message"] == _state(db_session, channel["id"])["urls_error"]
    # The other steps did not fail: their error is null, not an empty string.
    assert shown["verification"]["error"] is None and shown["health"]["error"] is None


def test_a_registration_that_succeeds_after_a_failure_leaves_no_error(client, merchant_a, channel,
                                                                     daraja, db_session):
    # The failure's code goes with its message: the row keeps no code for an error that is
    # gone (the API hides a code without a message, but the column would still hold it).
    _verified(db_session, channel["id"])
    url = f"/api/v1/mpesa-channels/{channel['id']}"
    _token(daraja)
    daraja.add(responses.POST, f"{DARAJA}/mpesa/c2b/v2/registerurl", status=500, json={
        "requestId": "1", "errorCode": "500.003.1001", "errorMessage": "Urls are already registered"})
    client.post(f"{url}/register-urls", headers=auth(merchant_a[1]), json={})
    channel_setup.register_urls(channel["id"])
    assert client.get(url, headers=auth(merchant_a[1])).get_json()["urls"]["error"]["code"] == \
        "urls_already_registered"
    daraja.replace(responses.POST, f"{DARAJA}/mpesa/c2b/v2/registerurl", json={
        "OriginatorCoversationID": "7619-37765134-1", "ResponseCode": "0",
        "ResponseDescription": "Success"})
    client.post(f"{url}/register-urls", headers=auth(merchant_a[1]), json={})
    channel_setup.register_urls(channel["id"])
    shown = client.get(url, headers=auth(merchant_a[1])).get_json()["urls"]
    assert shown["state"] == "registered" and shown["error"] is None
    assert db_session.execute(sa.text(
        "SELECT urls_error, urls_error_code FROM mpesa_channels WHERE id = :id"),
        {"id": channel["id"]}).one() == (None, None)


def test_health_checks_fan_out_per_active_channel_and_never_deactivate(channel, daraja, db_session,
                                                                       merchant_a, run_task, broker):
    db_session.execute(sa.text("UPDATE mpesa_channels SET status='active', is_active=true, "
                               "urls_state='done'"))
    assert run_task(TaskName.CHECK_ALL_CHANNELS) == 1
    pairs = [[merchant_a[0]["id"], channel["id"]]]
    assert published(broker("daraja")) == [("channels.check_health_batch", [pairs])]
    daraja.add(responses.GET, OAUTH, status=400, body="")
    run_task(TaskName.CHECK_HEALTH_BATCH, pairs)
    state = _state(db_session, channel["id"])
    assert state["health_state"] == "failing" and "refused" in state["health_error"]
    assert state["is_active"] is True and state["status"] == "active"
    _token(daraja, "tok-ok")
    daraja.replace(responses.GET, OAUTH, json={"access_token": "tok-ok", "expires_in": 3599})
    run_task(TaskName.CHECK_HEALTH_BATCH, pairs)
    assert _state(db_session, channel["id"])["health_state"] == "healthy"


def test_a_long_wait_is_clamped_not_refused(client, merchant_a, channel, monkeypatch):
    monkeypatch.setattr(channel_schemas, "MAX_WAIT", 1)  # 10 s in production; 1 s here
    started = time.monotonic()
    answer = client.post(f"/api/v1/mpesa-channels/{channel['id']}/verify?wait=3600",
                         headers=auth(merchant_a[1]))
    assert answer.status_code == 202  # no worker here: still pending after the clamped wait
    assert answer.get_json()["verification"]["state"] == "pending"
    assert 1 <= time.monotonic() - started < 3


def test_a_waiting_caller_holds_no_transaction_while_it_sleeps(client, merchant_a, channel,
                                                               monkeypatch):
    in_transaction = []

    def sleep(seconds):
        in_transaction.append(db.session().in_transaction())
        time.sleep(seconds)

    monkeypatch.setattr(channel_setup, "time", SimpleNamespace(monotonic=time.monotonic,
                                                               sleep=sleep))
    answer = client.post(f"/api/v1/mpesa-channels/{channel['id']}/verify?wait=1",
                         headers=auth(merchant_a[1]))
    assert answer.status_code == 202
    assert len(in_transaction) >= 3 and not any(in_transaction)


def test_the_verify_task_holds_no_transaction_while_safaricom_answers(channel, daraja, db_session,
                                                                     merchant_a, run_task):
    open_during_call = []

    def answer(request):
        open_during_call.append(db.session().in_transaction())
        return 200, {}, json.dumps({"access_token": "tok-123", "expires_in": "3599"})

    daraja.add_callback(responses.GET, OAUTH, callback=answer)
    run_task(TaskName.VERIFY_CHANNEL, merchant_a[0]["id"], channel["id"])
    # The channel was read in a step of its own, and the outcome recorded in another.
    assert open_during_call == [False]
    assert _state(db_session, channel["id"])["verification_state"] == "done"


def test_pending_tasks_carry_merchant_and_channel(client, merchant_a, channel, db_session):
    with unit_of_work():
        channel_setup.request_verification(channel["id"])
        assert pending(db_session()) == [("channels.verify", (merchant_a[0]["id"], channel["id"]), {})]
