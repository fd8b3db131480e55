"""No SMS relay (services/sms_allowance.py): a sandbox channel texts only the merchant's own
numbers, a daily quota per merchant, and links only with an active production channel."""

import re
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import responses
import sqlalchemy as sa
from sqlalchemy import event

from loyalty.background import TaskName
from loyalty.extensions import db
from loyalty.services import crediting, messages, passwords, sms_allowance
from loyalty.tenancy import tenant_context
from tests.integration.conftest import JOHN, c2b_body
from tests.integration.test_sms_sending import AT, SENT
from tests.web.conftest import login_as, text

STRANGER = "254799000111"
FRIEND = "254722000333"


@pytest.fixture
def gateway(app, monkeypatch):
    """Africa's Talking (mocked): a test fails if anything the test did not expect is sent."""
    for name, value in (("SMS_BACKEND", "africastalking"), ("AT_USERNAME", "acme"),
                        ("AT_API_KEY", "at-secret-key"), ("AT_BASE_URL", AT)):
        monkeypatch.setitem(app.config, name, value)
    app.extensions.pop("sms_backend", None)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
    app.extensions.pop("sms_backend", None)


def _texts(db_session):
    return db_session.execute(sa.text(
        "SELECT p.trans_id, s.recipient, s.status, s.reason FROM sms_messages s "
        "JOIN payments p ON p.id = s.payment_id ORDER BY s.id")).all()


def _pay(shop, trans_id, phone, **body):
    assert shop.hook("c2b/confirmation", c2b_body(trans_id=trans_id, msisdn=phone,
                                                  **body)).status_code == 200


def _send_all(shop, db_session):
    ids = [row.id for row in db_session.execute(sa.text(
        "SELECT id FROM sms_messages WHERE status = 'queued' ORDER BY id"))]
    messages.send_batch([(shop.merchant_id, i) for i in ids])


def _production_channel(shop, db_session, *, active=True) -> int:
    created = shop.api("POST", "/mpesa-channels", json={
        "name": "Shop PayBill", "shortcode": "600999", "channel_type": "paybill",
        "environment": "production", "consumer_key": "prod-key", "consumer_secret": "prod-secret"})
    assert created.status_code == 201, created.get_json()
    channel_id = created.get_json()["id"]
    db_session.execute(sa.text(
        "UPDATE mpesa_channels SET status = 'active', is_active = :active WHERE id = :id"),
        {"id": channel_id, "active": active})
    return channel_id


def test_forged_sandbox_confirmations_to_a_strangers_number_send_nothing(acme, db_session,
                                                                         gateway):
    assert acme.api("PATCH", "/merchants/me",
                    json={"sms_test_numbers": ["0722 000 333"]}).status_code == 200
    _pay(acme, "FORGED0001", STRANGER)                   # a stranger's number
    _pay(acme, "FORGED0002", "b" * 64)                   # a hashed payer: anyone at all
    _pay(acme, "OWNPHONE01", JOHN)                       # the merchant's own phone
    _pay(acme, "TESTNUMB01", FRIEND)                     # one of its SMS test numbers
    crediting.credit_waiting()
    assert _texts(db_session) == [
        ("FORGED0001", STRANGER, "skipped", "sandbox"),
        ("FORGED0002", "b" * 64, "skipped", "sandbox"),
        ("OWNPHONE01", JOHN, "queued", None),
        ("TESTNUMB01", FRIEND, "queued", None)]
    gateway.add(responses.POST, f"{AT}/version1/messaging", json=SENT)
    with tenant_context(acme.merchant_id):
        _send_all(acme, db_session)
    sent_to = sorted(call.request.body.split("to=%2B")[1][:12] for call in gateway.calls)
    assert sent_to == sorted([JOHN, FRIEND])  # the stranger got nothing, the gateway no call
    # The points are still the payer's: only the text is withheld.
    payments = dict(db_session.execute(sa.text("SELECT trans_id, status FROM payments")).all())
    assert set(payments.values()) == {"credited"}


def test_the_one_payment_path_keeps_the_rule_too(acme, db_session):
    """Attributing a masked payer goes through crediting.single (the ORM path)."""
    _pay(acme, "MASKED0001", "2547 ***** 111")
    crediting.credit_waiting()
    payment_id = db_session.execute(sa.text("SELECT id FROM payments")).scalar()
    attached = acme.api("POST", f"/transactions/{payment_id}/attribute",
                        json={"phone": STRANGER})
    assert attached.status_code == 200 and attached.get_json()["status"] == "credited"
    assert _texts(db_session) == [("MASKED0001", STRANGER, "skipped", "sandbox")]


def test_the_open_policy_texts_whoever_pays_a_sandbox_channel(acme, db_session, app,
                                                               monkeypatch):
    monkeypatch.setitem(app.config, "SANDBOX_SMS_POLICY", "open")
    _pay(acme, "OPEN000001", STRANGER)
    crediting.credit_waiting()
    assert _texts(db_session) == [("OPEN000001", STRANGER, "queued", None)]


def test_sms_test_numbers_are_normalised_and_at_most_five(acme):
    answer = acme.api("PATCH", "/merchants/me", json={
        "sms_test_numbers": ["0722 000 333", "+254722000333", "0110 123 456"]})
    assert answer.status_code == 200
    assert answer.get_json()["sms_test_numbers"] == [FRIEND, "254110123456"]
    too_many = acme.api("PATCH", "/merchants/me", json={
        "sms_test_numbers": [f"07220003{n:02d}" for n in range(6)]})
    assert too_many.status_code == 422
    assert "sms_test_numbers" in too_many.get_json()["error"]["fields"]
    bad = acme.api("PATCH", "/merchants/me", json={"sms_test_numbers": ["12345"]})
    assert bad.status_code == 422 and "sms_test_numbers" in bad.get_json()["error"]["fields"]


def test_the_web_settings_edit_the_test_numbers(client, acme):
    login_as(client, acme.merchant_id)
    page = client.get("/settings")
    assert page.status_code == 200 and "SMS test numbers" in text(page)
    saved = client.post("/settings", data={
        "business_name": "Acme Electronics", "owner_name": "John Doe", "phone": "0712345678",
        "sms_test_numbers": "0722 000 333\n0110 123 456"})
    assert saved.status_code == 302
    assert acme.api("GET", "/merchants/me").get_json()["sms_test_numbers"] == [
        FRIEND, "254110123456"]
    refused = client.post("/settings", data={
        "business_name": "Acme Electronics", "owner_name": "John Doe", "phone": "0712345678",
        "sms_test_numbers": "\n".join(f"07220003{n:02d}" for n in range(6))})
    assert refused.status_code == 422
    assert 'id="sms_test_numbers-error"' in refused.get_data(as_text=True)


def test_over_the_daily_quota_texts_are_skipped_and_the_ui_says_so(acme, db_session, app,
                                                                    client, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_DAILY_QUOTA_SANDBOX", 2)
    _pay(acme, "QUOTA00001", JOHN)
    crediting.credit_waiting()  # one batch, then a second one that finds one text today
    for n in (2, 3):
        _pay(acme, f"QUOTA0000{n}", JOHN)
    crediting.credit_waiting()
    assert [(t.trans_id, t.status, t.reason) for t in _texts(db_session)] == [
        ("QUOTA00001", "queued", None), ("QUOTA00002", "queued", None),
        ("QUOTA00003", "skipped", "quota")]
    login_as(client, acme.merchant_id)
    dashboard = text(client.get("/dashboard"))
    assert "Today's SMS limit of 2 texts is reached" in dashboard
    assert "Activating a production channel raises the limit" in dashboard
    payments = client.get("/transactions").get_data(as_text=True)
    assert payments.count('data-reason="quota"') == 1
    customer_id = db_session.execute(sa.text("SELECT customer_id FROM payments LIMIT 1")).scalar()
    assert "daily limit reached" in text(client.get(f"/customers/{customer_id}"))


def test_an_active_production_channel_raises_the_quota(acme, db_session, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_DAILY_QUOTA_SANDBOX", 1)
    monkeypatch.setitem(app.config, "SMS_DAILY_QUOTA", 3)
    _production_channel(acme, db_session)
    for n in range(4):
        _pay(acme, f"PROD00000{n}", JOHN)
    crediting.credit_waiting()
    assert [t.status for t in _texts(db_session)] == ["queued"] * 3 + ["skipped"]


def test_the_quota_is_counted_once_per_merchant_per_batch(acme, db_session, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_DAILY_QUOTA_SANDBOX", 3)
    for n in range(6):
        _pay(acme, f"ONCE00000{n}", JOHN)
    counts = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "sms_day_counts" in statement or ("count(*)" in statement
                                             and "sms_messages" in statement):
            counts.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert crediting.credit_waiting() == 6
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(counts) == 1
    assert [t.status for t in _texts(db_session)] == ["queued"] * 3 + ["skipped"] * 3


LINKED = "Hi {first_name}! {points} points. Details: example.co.ke/x"


def test_a_link_in_a_template_needs_an_active_production_channel(acme, db_session, client):
    refused = acme.api("POST", "/programs", json={"code": "web", "name": "Web",
                                                  "sms_template": LINKED})
    assert refused.status_code == 422
    fields = refused.get_json()["error"]["fields"]
    assert list(fields) == ["sms_template"] and "example.co.ke/x" in fields["sms_template"][0]
    for change in ({"sms_template": "Visit http://acme.example"}, {"name": "www.acme.test"},
                   {"stamps_required": 3, "stamp_reward": "a gift at bit.ly/gift"}):
        answer = acme.api("PATCH", "/programs/vip", json=change)
        assert answer.status_code == 422, change
        assert set(answer.get_json()["error"]["fields"]) <= set(change)
    login_as(client, acme.merchant_id)
    page = client.post("/programs/new", data={
        "code": "web", "name": "Web", "points_per_unit": "1", "unit_amount": "100",
        "multiplier": "1", "min_amount": "0", "sms_template": LINKED})
    assert page.status_code == 422 and 'id="sms_template-error"' in page.get_data(as_text=True)
    assert "active production channel" in text(page)
    _production_channel(acme, db_session)
    assert acme.api("POST", "/programs", json={"code": "web", "name": "Web",
                                               "sms_template": LINKED}).status_code == 201


def test_a_link_is_checked_again_when_the_text_is_sent(acme, db_session, gateway):
    production = _production_channel(acme, db_session)
    assert acme.api("PATCH", "/programs/loyalty",
                    json={"sms_template": LINKED}).status_code == 200
    _pay(acme, "LINK000001", JOHN, bill_ref="")
    crediting.credit_waiting()
    assert acme.api("POST", f"/mpesa-channels/{production}/deactivate").status_code == 200
    with tenant_context(acme.merchant_id):
        _send_all(acme, db_session)
    assert len(gateway.calls) == 0
    row = db_session.execute(sa.text("SELECT status, reason, error FROM sms_messages")).one()
    assert (row.status, row.reason) == ("skipped", "link")
    assert "example.co.ke/x" in row.error


def test_the_days_count_follows_the_texts_written_and_skipped(acme, db_session, gateway):
    """The quota reads a count kept by triggers (migration 0032): it must say what counting
    the day's texts would."""
    production = _production_channel(acme, db_session)
    assert acme.api("PATCH", "/programs/loyalty",
                    json={"sms_template": LINKED}).status_code == 200
    for n in range(3):
        _pay(acme, f"COUNT00000{n}", JOHN, bill_ref="")
    _pay(acme, "COUNT000009", STRANGER, bill_ref="")  # sandbox: skipped when written
    crediting.credit_waiting()

    def used() -> int:
        with tenant_context(acme.merchant_id):
            return sms_allowance.current_allowance().used

    def counted() -> int:
        return db_session.execute(sa.text(
            "SELECT count(*) FROM sms_messages WHERE created_at >= :since "
            "AND status <> 'skipped' AND purpose <> 'password_reset'"),
            {"since": sms_allowance.day_start()}).scalar()

    assert used() == counted() == 3
    # Its production channel switched off: the links are refused when sent, and the
    # skipped texts stop counting.
    assert acme.api("POST", f"/mpesa-channels/{production}/deactivate").status_code == 200
    with tenant_context(acme.merchant_id):
        _send_all(acme, db_session)
    assert used() == counted() == 0
    # A text of yesterday (Nairobi) is not today's.
    db_session.execute(sa.text(
        "UPDATE sms_messages SET created_at = :yesterday, status = 'queued' "
        "WHERE id = (SELECT min(id) FROM sms_messages WHERE reason = 'link')"),
        {"yesterday": sms_allowance.day_start() - timedelta(minutes=1)})
    assert used() == counted() == 0


# --- a merchant's own password-reset texts are outside the quota ------------------------------


def _ask_reset(acme, recorded_tasks) -> int:
    """Ask for reset codes over the API until refused; run the tasks the accepted asks
    queued, as the worker would. How many were accepted."""
    email = acme.api("GET", "/merchants/me").get_json()["email"]
    accepted = 0
    while acme.client.post("/api/v1/password-reset", json={"email": email}).status_code == 202:
        accepted += 1
    for args in recorded_tasks.args_of(TaskName.SEND_PASSWORD_RESET):
        assert passwords.send_reset_code(*args)
    return accepted


def test_reset_texts_take_nothing_from_the_quota_and_stop_at_their_own_limit(
        acme, db_session, app, monkeypatch, recorded_tasks):
    monkeypatch.setitem(app.config, "SMS_DAILY_QUOTA_SANDBOX", 2)
    assert _ask_reset(acme, recorded_tasks) == 3  # RATE_LIMIT_PASSWORD_RESET: 3 an hour
    for n in range(3):
        _pay(acme, f"AFTER0000{n}", JOHN)
    crediting.credit_waiting()
    # The customers still get the day's two texts; the third is over the quota.
    assert [(t.trans_id, t.status) for t in _texts(db_session)] == [
        ("AFTER00000", "queued"), ("AFTER00001", "queued"), ("AFTER00002", "skipped")]
    resets = db_session.execute(sa.text(
        "SELECT recipient, status FROM sms_messages WHERE purpose = 'password_reset'")).all()
    assert resets == [(JOHN, "queued")] * 3
    with tenant_context(acme.merchant_id):
        assert sms_allowance.current_allowance().used == 2


def test_a_merchant_over_its_quota_can_still_reset_its_password(
        acme, db_session, app, monkeypatch, recorded_tasks, gateway):
    monkeypatch.setitem(app.config, "SMS_DAILY_QUOTA_SANDBOX", 1)
    for n in range(2):
        _pay(acme, f"OVER00000{n}", JOHN)
    crediting.credit_waiting()
    assert [t.status for t in _texts(db_session)] == ["queued", "skipped"]
    recorded_tasks.clear()
    _ask_reset(acme, recorded_tasks)
    gateway.add(responses.POST, f"{AT}/version1/messaging", json=SENT)
    *_, (pairs,) = recorded_tasks.args_of(TaskName.SEND_SMS_BATCH)  # the latest code's text
    messages.send_batch([tuple(pair) for pair in pairs])
    sent = parse_qs(gateway.calls[-1].request.body)
    assert sent["to"] == ["+254712345678"] and "password reset code" in sent["message"][0]
    code = re.search(r"\b(\d{6})\b", sent["message"][0]).group(1)
    email = acme.api("GET", "/merchants/me").get_json()["email"]
    done = acme.client.post("/api/v1/password-reset/confirm", json={
        "email": email, "code": code, "new_password": "a brand new passphrase"})
    assert done.status_code == 200, done.get_json()
