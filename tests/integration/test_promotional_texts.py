"""Promotional texts: consent, never by hash, the opt-out line, and 08:00-18:00 Nairobi time
(held, not dropped), tested with a frozen clock."""

from datetime import datetime, time, timedelta, timezone

import pytest
import responses
import sqlalchemy as sa

from loyalty.extensions import db
from loyalty.models import Customer
from loyalty.services import crediting, messages, promotions, sms_outcomes
from loyalty.tenancy import tenant_context
from loyalty.unit_of_work import unit_of_work
from tests.integration.conftest import AT, JOHN, SENT, c2b_body

NAIROBI = timezone(timedelta(hours=3))
# A day well ahead of the real one, so nothing counting "today" meets it.
DAY = datetime.now(NAIROBI).date() + timedelta(days=30)


def nairobi(hour: int, minute: int = 0, days: int = 0) -> datetime:
    return datetime.combine(DAY + timedelta(days=days), time(hour, minute), NAIROBI).astimezone(
        timezone.utc)


@pytest.fixture
def clock(monkeypatch):
    """A frozen clock for the outbox: clock(moment) sets it (sending's and the outcomes')."""
    def set_to(moment: datetime) -> None:
        monkeypatch.setattr(messages, "utcnow", lambda: moment)
        monkeypatch.setattr(sms_outcomes, "utcnow", lambda: moment)
    return set_to


def _customer(acme, db_session, **consent):
    customer_id = acme.api("POST", "/customers", json={"phone": JOHN, **consent}).get_json()["id"]
    with tenant_context(acme.merchant_id):
        return db_session.get(Customer, customer_id)


def _queue(acme, customer, now):
    with tenant_context(acme.merchant_id), unit_of_work():
        customer = db.session.merge(customer)
        db.session.refresh(customer)  # as the API left it
        return promotions.queue_promotional(customer, "Your free delivery is waiting!",
                                            "reward_reminder", now=now).id


def _row(db_session, message_id):
    return db_session.execute(sa.text(
        "SELECT status, kind, reason, body, not_before FROM sms_messages WHERE id = :i"),
        {"i": message_id}).mappings().one()


def test_queued_at_21_nairobi_it_goes_out_at_08(acme, db_session, gateway, clock):
    customer = _customer(acme, db_session, marketing_consent=True)
    message_id = _queue(acme, customer, nairobi(21))
    assert _row(db_session, message_id)["not_before"] == nairobi(8, days=1)
    gateway.add(responses.POST, f"{AT}/version1/messaging", json=SENT)
    for moment in (nairobi(21, 5), nairobi(7, 59, days=1)):  # held through the night
        clock(moment)
        messages.send_batch([(acme.merchant_id, message_id)])
        assert _row(db_session, message_id)["status"] == "queued" and not gateway.calls
    clock(nairobi(8, days=1))
    messages.send_batch([(acme.merchant_id, message_id)])
    row = _row(db_session, message_id)
    assert (row["status"], row["kind"]) == ("sent", "promotional")
    assert row["body"].endswith("Opt out: dial *456*9*5# (free)")
    assert "Opt+out" in gateway.calls[0].request.body


def test_a_receipt_at_21_nairobi_goes_at_once(acme, db_session, gateway, clock):
    """Transactional texts have no window, and need no marketing consent (SMS.md 4.4-4.5)."""
    _customer(acme, db_session)
    acme.hook("c2b/confirmation", c2b_body())
    crediting.credit_waiting()
    message_id = db_session.execute(sa.text("SELECT max(id) FROM sms_messages")).scalar()
    gateway.add(responses.POST, f"{AT}/version1/messaging", json=SENT)
    clock(nairobi(21))
    messages.send_batch([(acme.merchant_id, message_id)])
    row = _row(db_session, message_id)
    assert (row["status"], row["kind"], row["not_before"]) == ("sent", "transactional", None)
    assert "Opt out" not in row["body"] and len(gateway.calls) == 1


def test_a_retry_that_slips_past_18_is_held_until_morning(acme, db_session, gateway, clock):
    customer = _customer(acme, db_session, marketing_consent=True)
    message_id = _queue(acme, customer, nairobi(17, 59))
    assert _row(db_session, message_id)["not_before"] is None
    clock(nairobi(18, 1))
    messages.send_batch([(acme.merchant_id, message_id)])
    row = _row(db_session, message_id)
    assert row["status"] == "queued" and row["not_before"] == nairobi(8, days=1)
    assert not gateway.calls


def test_only_with_consent_never_by_hash_and_not_after_an_opt_out(acme, db_session, app,
                                                                  monkeypatch):
    monkeypatch.setitem(app.config, "SMS_SHORTCODE", "21234")
    acme.api("PATCH", "/merchants/me", json={"sms_keyword": "ACME"})
    without = _customer(acme, db_session)
    assert _row(db_session, _queue(acme, without, nairobi(10)))["reason"] == "no_consent"
    acme.api("PATCH", f"/customers/{without.id}", json={"marketing_consent": True})
    row = _row(db_session, _queue(acme, without, nairobi(10)))
    assert row["status"] == "queued" and row["body"].endswith("SMS STOP ACME to 21234 (free)")
    acme.api("PATCH", f"/customers/{without.id}", json={"sms_opt_out": True})
    assert _row(db_session, _queue(acme, without, nairobi(10)))["reason"] == "opted_out"
    # A payer known only by hash, even with consent on record, is never sent a promotion.
    acme.hook("c2b/confirmation", c2b_body(msisdn="a" * 64, trans_id="RKT0000009"))
    crediting.credit_waiting()
    with tenant_context(acme.merchant_id):
        hashed = db_session.scalar(sa.select(Customer).where(Customer.phone.is_(None)))
    hashed.marketing_consent = True
    assert _row(db_session, _queue(acme, hashed, nairobi(10)))["reason"] == "hashed"


def test_withdrawing_consent_cancels_queued_promotions_but_not_receipts(acme, db_session,
                                                                         open_sandbox):
    customer = _customer(acme, db_session, marketing_consent=True)
    acme.hook("c2b/confirmation", c2b_body())
    crediting.credit_waiting()
    promo = _queue(acme, customer, nairobi(21))
    acme.api("PATCH", f"/customers/{customer.id}", json={"marketing_consent": False})
    kinds = dict(db_session.execute(sa.text(
        "SELECT kind, status FROM sms_messages WHERE customer_id = :c"), {"c": customer.id}).all())
    assert kinds == {"transactional": "queued", "promotional": "cancelled"}
    assert _row(db_session, promo)["status"] == "cancelled"


def test_the_window_is_eight_to_six_nairobi_time():
    assert not promotions.in_window(nairobi(7, 59)) and promotions.in_window(nairobi(8))
    assert promotions.in_window(nairobi(17, 59)) and not promotions.in_window(nairobi(18))
    assert promotions.window_start(nairobi(2)) == nairobi(8)
    assert promotions.window_start(nairobi(12)) == nairobi(12)
