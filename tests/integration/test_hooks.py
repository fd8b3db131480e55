"""Safaricom callbacks: stored before anything can fail, answered fast, never credited twice."""

import sqlalchemy as sa

from loyalty.phones import hash_msisdn
from tests.integration.conftest import JOHN, c2b_body, pending_push


def _payments(db_session):
    return db_session.execute(sa.text(
        "SELECT trans_id, amount, bill_ref, msisdn_form, status, first_name FROM payments "
        "ORDER BY id")).all()


def _log(db_session):
    return db_session.execute(sa.text(
        "SELECT kind, status_code, error, body, channel_id, outcome FROM callback_log "
        "ORDER BY id")).all()


def test_confirmation_is_stored_and_accepted_and_duplicates_are_too(acme, db_session):
    for _ in range(3):
        response = acme.hook("c2b/confirmation", c2b_body())
        assert response.status_code == 200
        assert response.get_json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    rows = _payments(db_session)
    assert len(rows) == 1
    trans_id, amount, bill_ref, form, status, name = rows[0]
    assert (trans_id, str(amount), bill_ref, form, name) == ("RKTQDM7W6S", "5000.00", "VIP001",
                                                              "hashed", "John")
    assert status == "received"


def test_numbers_as_json_numbers_are_accepted(acme, db_session):
    body = c2b_body(TransAmount=1200, BusinessShortCode=174379, trans_id="NUM0000001")
    body["TransAmount"] = 1200
    assert acme.hook("c2b/confirmation", body).status_code == 200
    assert str(_payments(db_session)[0][1]) == "1200.00"


def test_unknown_token_is_404_and_nothing_is_kept(acme, db_session):
    response = acme.hook("c2b/confirmation", c2b_body(), token="0" * 32)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert _payments(db_session) == []
    assert _log(db_session) == []  # strangers store nothing (test_hooks_abuse.py)


def test_malformed_body_is_400_with_a_clear_message_and_kept(acme, db_session):
    response = acme.hook("c2b/confirmation", b"{not json")
    assert response.status_code == 400
    assert "not valid JSON" in response.get_json()["error"]["message"]
    missing = c2b_body()
    del missing["TransID"]
    response = acme.hook("c2b/confirmation", missing)
    assert response.status_code == 400 and "TransID" in response.get_json()["error"]["message"]
    logged = _log(db_session)
    assert [row.body for row in logged][0] == "{not json"
    assert all(row.status_code == 400 and row.channel_id == acme.channel["id"]
               and row.outcome == "rejected" for row in logged)
    assert _payments(db_session) == []


def test_shortcode_of_another_business_is_refused_and_not_credited(acme, db_session):
    response = acme.hook("c2b/confirmation", c2b_body(shortcode="600999"))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "shortcode_mismatch"
    assert _payments(db_session) == []
    assert _log(db_session)[0].status_code == 400


def test_oversized_bodies_are_refused_with_the_error_body(acme, db_session):
    response = acme.hook("c2b/confirmation", b"{" + b" " * (65 * 1024) + b"}")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    assert _log(db_session) == []


def test_validation_accepts_by_default_and_rejects_unknown_when_asked(acme, db_session):
    ok = acme.hook("c2b/validation", c2b_body(bill_ref="anything"))
    assert ok.get_json() == {"ResultCode": "0", "ResultDesc": "Accepted"}
    acme.api("PATCH", f"/mpesa-channels/{acme.channel['id']}",
             json={"validation_policy": "reject_unknown", "account_mapping": {"VIP*": "vip"}})
    from loyalty.services.ingest import forget_routes

    forget_routes()
    assert acme.hook("c2b/validation", c2b_body(bill_ref="vip42")).get_json()["ResultCode"] == "0"
    rejected = acme.hook("c2b/validation", c2b_body(bill_ref="GOLD1")).get_json()
    assert rejected == {"ResultCode": "C2B00012", "ResultDesc": "Rejected"}
    assert _payments(db_session) == []


def test_source_ip_policy(acme, app, db_session):
    app.config["CALLBACK_IP_POLICY"] = "enforce"
    try:
        refused = acme.hook("c2b/confirmation", c2b_body())
        assert refused.status_code == 403
        app.config["CALLBACK_IP_ALLOWLIST"] = ["127.0.0.0/8"]
        assert acme.hook("c2b/confirmation", c2b_body()).status_code == 200
    finally:
        app.config["CALLBACK_IP_POLICY"] = "off"
        app.config["CALLBACK_IP_ALLOWLIST"] = []
    assert len(_payments(db_session)) == 1
    assert _log(db_session)[0].status_code == 403
    assert _log(db_session)[0].outcome == "refused_ip"


def test_stk_result_becomes_a_payment_in_the_receipt_namespace(acme, db_session):
    pending_push(db_session, acme, JOHN)
    result = {"Body": {"stkCallback": {
        "MerchantRequestID": "29115-1", "CheckoutRequestID": "ws_CO_1", "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": [
            {"Name": "Amount", "Value": 100.00}, {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
            {"Name": "Balance"}, {"Name": "TransactionDate", "Value": 20261126102115},
            {"Name": "PhoneNumber", "Value": 254712345678}]}}}}
    assert acme.hook("stk", result).get_json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    # The same receipt as a C2B confirmation is a duplicate.
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="NLJ7RT61SV", amount="100.00",
                                                  msisdn=hash_msisdn(JOHN))).status_code == 200
    rows = _payments(db_session)
    assert [(r.trans_id, r.bill_ref, r.msisdn_form) for r in rows] == [("NLJ7RT61SV", "VIP7", "plain")]
    state = db_session.execute(sa.text("SELECT status, receipt FROM payment_requests")).one()
    assert tuple(state) == ("succeeded", "NLJ7RT61SV")


def test_stk_failure_and_async_results_are_recorded(acme, db_session):
    pending_push(db_session, acme, JOHN, reference="X", checkout="ws_CO_2")
    cancelled = {"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID": "ws_CO_2",
                                          "ResultCode": "1032", "ResultDesc": "Request cancelled by user"}}}
    assert acme.hook("stk", cancelled).status_code == 200
    assert db_session.execute(sa.text("SELECT status, result_code FROM payment_requests")).one() == (
        "cancelled", "1032")
    balance = {"Result": {"ResultType": 0, "ResultCode": 0, "ResultDesc": "ok",
                          "OriginatorConversationID": "1", "ConversationID": "AG_1",
                          "TransactionID": "X", "ResultParameters": {"ResultParameter": {
                              "Key": "AccountBalance", "Value": "Utility Account|KES|10.00|10.00|0.00|0.00"}}}}
    assert acme.hook("result/balance", balance).status_code == 200
    logged = _log(db_session)[-1]
    assert (logged.kind, logged.outcome) == ("result_balance", "result")
    assert "No request of this channel has ConversationID AG_1" in logged.error  # kept, unapplied
    assert _payments(db_session) == []


def test_a_confirmation_costs_one_insert_once_the_channel_is_cached(acme, app, db_session,
                                                                   monkeypatch):
    import psycopg

    acme.hook("c2b/confirmation", c2b_body(trans_id="WARMUP0001"))  # fills the route cache
    statements = []
    execute = psycopg.Cursor.execute

    def record(cursor, query, *args, **kwargs):  # everything sent to PostgreSQL, any layer
        text = query if isinstance(query, str) else query.decode()
        if not text.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(text.split()[0].upper())
        return execute(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", record)
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="COUNTED001")).status_code == 200
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="COUNTED001")).status_code == 200
    monkeypatch.undo()
    assert statements == ["INSERT", "INSERT"]


def test_stk_result_finds_its_request_by_path_when_the_push_timed_out(acme, db_session):
    request_id = pending_push(db_session, acme, JOHN, amount=250, reference="VIP9", checkout=None)
    result = {"Body": {"stkCallback": {
        "MerchantRequestID": "m-7", "CheckoutRequestID": "ws_CO_LATE", "ResultCode": "0",
        "ResultDesc": "ok", "CallbackMetadata": {"Item": [
            {"Name": "Amount", "Value": 250}, {"Name": "MpesaReceiptNumber", "Value": "LATE000001"},
            {"Name": "PhoneNumber", "Value": 254712345678}]}}}}
    assert acme.hook(f"stk/{request_id}", result).status_code == 200
    row = db_session.execute(sa.text(
        "SELECT status, checkout_request_id, receipt FROM payment_requests")).one()
    assert tuple(row) == ("succeeded", "ws_CO_LATE", "LATE000001")
    assert _payments(db_session)[0].bill_ref == "VIP9"


def test_a_channel_change_reaches_the_callbacks_when_its_cached_route_ages(acme, app, db_session,
                                                                          monkeypatch):
    def validate():
        return acme.hook("c2b/validation", c2b_body(bill_ref="GOLD1")).get_json()["ResultCode"]

    def policy(name):
        acme.api("PATCH", f"/mpesa-channels/{acme.channel['id']}",
                 json={"validation_policy": name, "account_mapping": {"VIP*": "vip"}})

    assert validate() == "0"
    policy("reject_unknown")
    assert validate() == "0"  # this process answers from the route it cached (15 s by default)
    monkeypatch.setitem(app.config, "ROUTE_CACHE_SECONDS", 0)
    from loyalty.services.ingest import forget_routes

    forget_routes()
    assert validate() == "C2B00012"
    policy("accept_all")
    assert validate() == "0"  # no cache: the change is seen at once
