"""Sending from the outbox through Africa's Talking (mocked at the HTTP edge)."""

import responses
import sqlalchemy as sa

from loyalty.background import TaskName
from loyalty.phones import hash_msisdn
from loyalty.services import crediting, messages
from loyalty.tenancy import tenant_context
from tests.integration.conftest import AT, JOHN, SENT, c2b_body, published


def _queued(acme, db_session, **body):
    acme.hook("c2b/confirmation", c2b_body(**body))
    crediting.credit_waiting()
    return db_session.execute(sa.text("SELECT id FROM sms_messages ORDER BY id DESC")).scalar()


def _row(db_session, message_id):
    return db_session.execute(sa.text(
        "SELECT status, attempts, provider_message_id, error FROM sms_messages WHERE id = :i"),
        {"i": message_id}).mappings().one()


def test_enrolled_customer_is_texted_at_their_phone(acme, db_session, gateway, caplog):
    acme.api("POST", "/customers", json={"phone": JOHN, "first_name": "John"})
    message_id = _queued(acme, db_session)
    gateway.add(responses.POST, f"{AT}/version1/messaging", json=SENT)
    with tenant_context(acme.merchant_id):
        messages.send_message(message_id)
    sent = gateway.calls[0].request
    assert sent.headers["apiKey"] == "at-secret-key"
    assert "to=%2B254712345678" in sent.body and "username=acme" in sent.body
    assert _row(db_session, message_id)["status"] == "sent"
    assert _row(db_session, message_id)["provider_message_id"] == "ATXid_1"
    assert "at-secret-key" not in caplog.text and JOHN not in caplog.text
    with tenant_context(acme.merchant_id):  # sending again is a no-op
        messages.send_message(message_id)
    assert len(gateway.calls) == 1


def test_hashed_payer_gets_the_transactional_text_by_hash(acme, db_session, gateway,
                                                        open_sandbox):
    message_id = _queued(acme, db_session)
    gateway.add(responses.POST, f"{AT}/version1/messaging/bulk", json=SENT)
    with tenant_context(acme.merchant_id):
        messages.send_message(message_id)
    body = gateway.calls[0].request.body
    assert f"maskedNumber={hash_msisdn(JOHN)}" in body and "telco=Safaricom" in body
    assert "You+earned+100+VIP+points" in body


def test_gateway_failures_are_retried_and_the_text_is_sent_once(acme, db_session, gateway):
    acme.api("POST", "/customers", json={"phone": JOHN})
    message_id = _queued(acme, db_session)
    for _ in range(3):
        gateway.add(responses.POST, f"{AT}/version1/messaging", status=500, body="busy")
    gateway.add(responses.POST, f"{AT}/version1/messaging", json=SENT)
    retry = [(acme.merchant_id, message_id)]
    for _ in range(3):
        retry = messages.send_batch(retry, final_attempt=False)
        assert retry == [(acme.merchant_id, message_id)]
        assert _row(db_session, message_id)["status"] == "queued"
    assert messages.send_batch(retry, final_attempt=False) == []
    row = _row(db_session, message_id)
    assert (row["status"], row["attempts"]) == ("sent", 4)
    assert len(gateway.calls) == 4


def test_the_last_failed_attempt_records_the_reason(acme, db_session, gateway):
    acme.api("POST", "/customers", json={"phone": JOHN})
    message_id = _queued(acme, db_session)
    gateway.add(responses.POST, f"{AT}/version1/messaging", status=503, body="down")
    assert messages.send_batch([(acme.merchant_id, message_id)], final_attempt=True) == []
    row = _row(db_session, message_id)
    assert row["status"] == "failed" and "unavailable" in row["error"]


def test_a_blacklisted_number_fails_without_retrying(acme, db_session, gateway):
    acme.api("POST", "/customers", json={"phone": JOHN})
    message_id = _queued(acme, db_session)
    gateway.add(responses.POST, f"{AT}/version1/messaging", json={"SMSMessageData": {
        "Message": "Sent to 0/1", "Recipients": [{"statusCode": 406, "number": "+254712345678",
                                                  "status": "UserInBlacklist", "cost": "0"}]}})
    assert messages.send_batch([(acme.merchant_id, message_id)], final_attempt=False) == []
    row = _row(db_session, message_id)
    assert row["status"] == "failed" and "406" in row["error"]


def test_segments_and_encoding_are_stored(acme, db_session):
    _queued(acme, db_session)
    row = db_session.execute(sa.text("SELECT encoding, segments FROM sms_messages")).one()
    assert tuple(row) == ("GSM-7", 1)


def test_lost_send_tasks_are_swept_and_a_claimed_message_is_not_sent_twice(acme, db_session, app,
                                                                          run_task, broker):
    acme.api("POST", "/customers", json={"phone": JOHN})
    message_id = _queued(acme, db_session)
    broker("sms")  # the send task the crediting queued
    assert run_task(TaskName.SWEEP_SMS_OUTBOX) == 0  # too young: its own task may still come
    db_session.execute(sa.text("UPDATE sms_messages SET updated_at = now() - interval '10 minutes'"))
    with tenant_context(acme.merchant_id):
        claimed = messages._queued([message_id])
        assert [m.id for m in claimed] == [message_id]
        assert messages._queued([message_id]) == []  # held by the first sender
    assert run_task(TaskName.SWEEP_SMS_OUTBOX) == 0  # claimed: a sender is on it
    db_session.execute(sa.text("UPDATE sms_messages SET claimed_until = now() - interval '1 second'"))
    assert broker("sms") == []
    assert run_task(TaskName.SWEEP_SMS_OUTBOX) == 1
    assert published(broker("sms")) == [("sms.send_batch", [[[acme.merchant_id, message_id]]])]


def _many(acme, db_session, count):
    """`count` queued texts to John's phone (enrolled), one per payment."""
    acme.api("POST", "/customers", json={"phone": JOHN, "first_name": "John"})
    for n in range(count):
        acme.hook("c2b/confirmation", c2b_body(trans_id=f"MANY{n:06d}"))
    crediting.credit_waiting()
    return [row.id for row in db_session.execute(sa.text(
        "SELECT id FROM sms_messages WHERE status = 'queued' ORDER BY id"))]


def _sent_json(n):
    return {"SMSMessageData": {"Message": "Sent to 1/1", "Recipients": [
        {"statusCode": 101, "number": "+254712345678", "cost": "KES 0.8000", "status": "Success",
         "messageId": f"ATXid_{n}"}]}}


def test_a_batch_is_claimed_and_recorded_with_a_statement_per_chunk(acme, app, db_session, gateway,
                                                                    monkeypatch):
    from sqlalchemy import event

    from loyalty.extensions import db

    monkeypatch.setitem(app.config, "SMS_CHUNK_SIZE", 4)
    monkeypatch.setitem(app.config, "SMS_CONCURRENCY", 1)  # the gateway's ids in order
    ids = _many(acme, db_session, 4 + 2)
    for n in range(len(ids)):
        gateway.add(responses.POST, f"{AT}/version1/messaging", json=_sent_json(n))
    updates = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE"):
            updates.append("unnest" in statement if executemany is False else "many")

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        retry = messages.send_batch([(acme.merchant_id, i) for i in ids])
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert retry == []
    rows = db_session.execute(sa.text(
        "SELECT status, attempts, provider_message_id, sent_at IS NOT NULL AS dated, claimed_until "
        "FROM sms_messages ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("sent", 1, f"ATXid_{n}", True, None)
                                        for n in range(len(ids))]
    # Two chunks: a claim and one statement for all the outcomes each (not two per text).
    assert updates == [False, True, False, True]


def test_when_the_gateway_goes_down_the_rest_of_the_chunk_is_not_tried(acme, app, db_session,
                                                                       gateway, monkeypatch):
    # One call at a time, so the gateway's answers come in the order they are listed (the
    # concurrent case: test_sms_concurrency.py).
    monkeypatch.setitem(app.config, "SMS_CONCURRENCY", 1)
    ids = _many(acme, db_session, 4)
    gateway.add(responses.POST, f"{AT}/version1/messaging", json=_sent_json(0))
    gateway.add(responses.POST, f"{AT}/version1/messaging", status=503, body="down")
    retry = messages.send_batch([(acme.merchant_id, i) for i in ids], final_attempt=False)
    assert retry == [(acme.merchant_id, i) for i in ids[1:]]
    assert len(gateway.calls) == 2  # the two after the failure waited for no timeout
    rows = db_session.execute(sa.text(
        "SELECT status, attempts, claimed_until FROM sms_messages ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("sent", 1, None), ("queued", 1, None),
                                        ("queued", 0, None), ("queued", 0, None)]


def test_no_call_starts_once_half_the_claim_is_spent(acme, app, db_session, gateway,
                                                   monkeypatch):
    import time as clock

    monkeypatch.setitem(app.config, "SMS_CONCURRENCY", 1)
    ids = _many(acme, db_session, 3)

    def slow(request):
        clock.sleep(0.3)
        return 200, {}, __import__("json").dumps(_sent_json(len(gateway.calls)))

    gateway.add_callback(responses.POST, f"{AT}/version1/messaging", callback=slow)
    monkeypatch.setitem(app.config, "SMS_CLAIM_SECONDS", 0.5)  # half spent after the first
    retry = messages.send_batch([(acme.merchant_id, i) for i in ids], final_attempt=False)
    assert retry == [(acme.merchant_id, i) for i in ids[1:]]
    rows = db_session.execute(sa.text(
        "SELECT status, attempts, claimed_until FROM sms_messages ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("sent", 1, None), ("queued", 0, None), ("queued", 0, None)]


def test_the_send_task_holds_no_transaction_while_the_gateway_answers(acme, db_session, gateway,
                                                                      run_task):
    from loyalty.extensions import db

    acme.api("POST", "/customers", json={"phone": JOHN, "first_name": "John"})
    message_id = _queued(acme, db_session)
    open_during_call = []

    def answer(request):
        open_during_call.append(db.session().in_transaction())
        return 201, {}, __import__("json").dumps(SENT)

    gateway.add_callback(responses.POST, f"{AT}/version1/messaging", callback=answer)
    run_task(TaskName.SEND_SMS_BATCH, [[acme.merchant_id, message_id]])
    # The claim was committed before the call, and the outcome after it.
    assert open_during_call == [False]
    assert _row(db_session, message_id)["status"] == "sent"
