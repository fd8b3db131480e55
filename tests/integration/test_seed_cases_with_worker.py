"""The seed's two real-world cases and a Till payment, credited by a real Celery worker on
Redis, with the SMS delivered to the emulator's Africa's Talking endpoint."""

import sqlalchemy as sa
from flask_migrate import upgrade

from loyalty.extensions import db
from loyalty.phones import hash_msisdn
from tests import processes
from tests.conftest import REDIS_URL, auth, make_test_app, register_merchant
from tests.integration.conftest import DELIVERY, JOHN, VIP, c2b_body

MARY = "254722000111"


def _shop(client, app, name, programs, mapping, channel_type="paybill", shortcode="174379"):
    _, key = register_merchant(client, business_name=name)
    for program in programs:
        client.post("/api/v1/programs", headers=auth(key), json=program)
    body = {"name": name, "shortcode": shortcode, "channel_type": channel_type,
            "consumer_key": "k", "consumer_secret": "s", "account_mapping": mapping}
    if channel_type == "till":
        body["store_number"] = "600111"
    channel = client.post("/api/v1/mpesa-channels", headers=auth(key), json=body).get_json()
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE mpesa_channels SET status='active', is_active=true WHERE id=:i"),
                     {"i": channel["id"]})
        token = conn.execute(sa.text("SELECT callback_token FROM mpesa_channels WHERE id=:i"),
                             {"i": channel["id"]}).scalar()
    return key, token


def _sent(app) -> int:
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM sms_messages WHERE status = 'sent'")).scalar()


def test_seed_cases_credit_and_text_exactly_once(scratch_database, redis_prefix, emulator_url,
                                                 tmp_path):
    import requests

    # The seed's sandbox channels text their (invented) payers, as in `make run`.
    settings = {"SMS_BACKEND": "africastalking", "AT_USERNAME": "acme", "AT_API_KEY": "k",
                "AT_BASE_URL": f"{emulator_url}/_emulator/sms", "SANDBOX_SMS_POLICY": "open"}
    app = make_test_app(scratch_database, redis_prefix, **settings)
    with app.app_context():
        upgrade()
    client = app.test_client()
    acme_key, acme = _shop(client, app, "Acme Electronics", [VIP], {"default": "loyalty", "VIP*": "vip"})
    _, taste = _shop(client, app, "Taste Restaurants", [DELIVERY],
                     {"default": "loyalty", "DELIVERY": "delivery"})
    _, till = _shop(client, app, "Corner Shop", [], {"default": "loyalty"}, "till", "123456")
    client.post("/api/v1/customers", headers=auth(acme_key), json={"phone": JOHN, "first_name": "John"})

    env = processes.app_environment(scratch_database, REDIS_URL, redis_prefix, **settings)
    with processes.running("worker", processes.celery_worker_args(queues="callbacks,sms,default"),
                           env, tmp_path) as worker:
        def hook(token, body):
            response = client.post(f"/hooks/{token}/c2b/confirmation", json=body)
            assert response.status_code == 200

        def inbox(phone):
            return requests.get(f"{emulator_url}/_emulator/sms/inbox", params={"to": phone},
                                timeout=5).json()

        # John already has 2,747 VIP points from an earlier payment (137,350 x 2 / 100).
        hook(acme, c2b_body(trans_id="EARLIER001", amount="137350.00", bill_ref="VIP000"))
        processes.wait_until(lambda: len(inbox(JOHN)) == 1, timeout=30,
                             message="the first SMS\n" + worker.log())
        for _ in range(3):  # Safaricom may deliver the same confirmation more than once
            hook(acme, c2b_body(trans_id="RKTQDM7W6S", amount="5000.00", bill_ref="VIP001"))
        hook(taste, c2b_body(trans_id="TASTE00001", amount="1200.00", bill_ref="DELIVERY",
                             msisdn=hash_msisdn(MARY),
                             first_name="Mary"))
        hook(till, c2b_body(shortcode="600111", trans_id="TILL000001", amount="450.00", bill_ref="",
                            TransactionType="Buy Goods", first_name="Ann", msisdn="b" * 64))
        processes.wait_until(lambda: len(inbox(JOHN)) == 2 and len(inbox(MARY)) == 1
                             and len(inbox("b" * 64)) == 1, timeout=30,
                             message="the SMS\n" + worker.log())
        # The gateway has the texts; the worker records each outcome just after its answer.
        processes.wait_until(lambda: _sent(app) == 4, timeout=30,
                             message="the SMS outcomes recorded\n" + worker.log())

    texts = [m["message"] for m in inbox(JOHN)]
    assert texts.count("Hi John! You earned 100 VIP points. Total: 2,847 points.") == 1
    assert [m["message"] for m in inbox(MARY)] == ["Thanks Mary! 4 more orders for free delivery."]
    assert [m["message"] for m in inbox("b" * 64)] == [
        "Hi Ann! You earned 4 Loyalty points. Total: 4 points."]
    with app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.trans_id, p.status, p.points, lp.code FROM payments p "
            "JOIN loyalty_programs lp ON lp.id = p.program_id ORDER BY p.id")).all()
        sms = conn.execute(sa.text("SELECT count(*), count(*) FILTER (WHERE status='sent') "
                                   "FROM sms_messages")).one()
    assert [tuple(r) for r in rows] == [
        ("EARLIER001", "credited", 2747, "vip"), ("RKTQDM7W6S", "credited", 100, "vip"),
        ("TASTE00001", "credited", 0, "delivery"), ("TILL000001", "credited", 4, "loyalty")]
    assert tuple(sms) == (4, 4)
