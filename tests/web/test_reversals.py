"""A payment's page: what a reversal takes back, shown before the merchant confirms; reverse
with M-Pesa or mark as reversed. A customer's page: adjusting points by hand."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.web.conftest import sign_up, text


@pytest.fixture
def payment_url(db_session, shop) -> str:
    payment_id = db_session.execute(sa.text("SELECT id FROM payments")).scalar()
    return f"/transactions/{payment_id}"


def _form(client, url: str, way: str) -> dict:
    """The hidden fields of one of the page's reversal forms, as the browser would send them."""
    html = client.get(url).get_data(as_text=True)
    fields = dict(re.findall(rf'name="({way}-(?:amount|idempotency_key))" type="hidden" '
                             r'value="([^"]*)"', html))
    assert f"{way}-idempotency_key" in fields, html
    return fields


def _balance(db_session) -> int:
    return db_session.execute(sa.text(
        "SELECT b.points FROM balances b JOIN loyalty_programs p ON p.id = b.program_id "
        "WHERE p.code = 'vip'")).scalar()


def test_the_page_shows_what_a_reversal_takes_back_before_anything_happens(client, db_session,
                                                                            shop, payment_url):
    page = text(client.get(payment_url))
    assert "Reversing KES 5,000 takes back 100 VIP points" in page
    assert "John's VIP balance goes from 100 to 0 points." in page
    half = text(client.get(payment_url, query_string={"amount": "2500"}))
    assert "Reversing KES 2,500 of KES 5,000 takes back 50 VIP points" in half
    assert "goes from 100 to 50 points" in half and "Mark KES 2,500 as reversed" in half
    too_much = client.get(payment_url, query_string={"amount": "6000"})
    assert "at most the payment's KES 5,000" in text(too_much)
    assert 'id="amount-error"' in too_much.get_data(as_text=True)
    assert "takes back 100 VIP points" in text(too_much)  # the whole payment is offered
    assert "Must be a number" in text(client.get(payment_url, query_string={"amount": "lots"}))
    assert _balance(db_session) == 100  # looking changed nothing


def test_mark_as_reversed_takes_the_points_back_once(client, db_session, shop, payment_url):
    form = _form(client, payment_url + "?amount=2500", "manual")
    assert form["manual-amount"] == "2500.00"
    data = {**form, "manual-reason": "Reversed by customer care"}
    done = client.post(payment_url + "/mark-reversed", data=data)
    assert done.status_code == 302
    page = text(client.get(done.headers["Location"]))
    assert "Recorded as reversed elsewhere; 50 points taken back." in page
    assert "reversed" in page and "KES 2,500 reversed" not in page  # the facts say "Reversed"
    assert "Reversed KES 2,500" in page and "Why: Reversed by customer care" in page
    assert "Reverse this payment" not in page  # nothing left to reverse
    again = client.post(payment_url + "/mark-reversed", data=data, follow_redirects=True)
    assert "That reversal was already recorded." in text(again)
    assert _balance(db_session) == 50
    assert db_session.execute(sa.text(
        "SELECT count(*) FROM ledger_entries WHERE kind = 'reverse'")).scalar() == 1
    listing = text(client.get("/transactions"))
    assert "KES 2,500 reversed" in listing


def test_the_reversal_forms_need_their_csrf_token(client, app, db_session, shop, payment_url,
                                                 monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    html = client.get(payment_url).get_data(as_text=True)
    token = re.search(r'name="manual-csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    data = {**_form(client, payment_url, "manual"), "manual-reason": "Customer care"}
    assert client.post(payment_url + "/mark-reversed", data=data).status_code == 400
    assert _balance(db_session) == 100
    sent = client.post(payment_url + "/mark-reversed", data={**data, "manual-csrf_token": token})
    assert sent.status_code == 302 and _balance(db_session) == 0


def test_a_reason_is_needed(client, db_session, shop, payment_url):
    refused = client.post(payment_url + "/mark-reversed",
                          data={**_form(client, payment_url, "manual"), "manual-reason": "x"})
    assert refused.status_code == 422
    assert 'id="manual-reason-error"' in refused.get_data(as_text=True)
    assert _balance(db_session) == 100


def test_without_an_operator_mpesa_is_not_offered_and_cannot_be_forced(client, db_session, shop,
                                                                         payment_url):
    page = text(client.get(payment_url))
    assert "add the channel's API operator (initiator)" in page
    assert "Reverse KES 5,000" not in page
    forced = client.post(payment_url + "/reverse",
                         data={"mpesa-reason": "Paid twice", "mpesa-idempotency_key": "k"})
    assert forced.status_code == 422
    assert "has no initiator" in text(forced)
    assert _balance(db_session) == 100


def test_with_an_operator_the_reversal_is_sent_to_mpesa(client, db_session, shop, payment_url,
                                                        recorded_tasks):
    channel = shop.channel["id"]
    saved = client.post(f"/channels/{channel}/edit", data={
        "name": "Main", "channel_type": "paybill", "shortcode": "174379",
        "environment": "sandbox", "validation_policy": "accept_all",
        "initiator_name": "apiop1", "initiator_password": "Initiator-Pass-1"})
    assert saved.status_code == 302, text(saved)
    assert "API operator apiop1 (password stored)" in text(client.get(f"/channels/{channel}"))
    form = _form(client, payment_url, "mpesa")
    sent = client.post(payment_url + "/reverse", data={**form, "mpesa-reason": "Paid twice"},
                       follow_redirects=True)
    assert "Waiting for M-Pesa's result; the points are taken back once it confirms." in text(sent)
    assert len(recorded_tasks.args_of("daraja.reverse")) == 1
    assert _balance(db_session) == 100  # not before M-Pesa's result


def test_another_merchants_payment_page_is_not_found(client, db_session, shop, payment_url):
    client.post("/logout")
    sign_up(client)
    assert client.get(payment_url).status_code == 404
    assert client.post(payment_url + "/mark-reversed", data={
        "manual-reason": "Mine now", "manual-idempotency_key": "k"}).status_code == 404


# --- adjustments on the customer's page --------------------------------------------------------


def _customer_url(client) -> str:
    return client.get("/customers", query_string={"phone": "0712345678"}).headers["Location"]


def _adjust(client, url, points, reason="Birthday bonus", key=None):
    html = client.get(url).get_data(as_text=True)
    key = key or re.search(r'name="adjust-idempotency_key" type="hidden" value="([0-9a-f]+)"',
                           html).group(1)
    return client.post(url + "/adjust", data={
        "adjust-program": "vip", "adjust-points": str(points), "adjust-reason": reason,
        "adjust-idempotency_key": key}), key


def test_adjustments_add_once_per_form_and_show_in_the_ledger(client, shop):
    url = _customer_url(client)
    first, key = _adjust(client, url, 25)
    assert first.status_code == 302
    assert "Adjusted by +25 points. Balance now 125." in text(client.get(url))
    again, _ = _adjust(client, url, 25, key=key)
    page = text(client.get(again.headers["Location"]))
    assert "That adjustment was already recorded." in page
    assert "125 VIP points" in page and "adjust: Birthday bonus" in page


def test_a_bad_adjustment_is_shown_on_its_field(client, shop):
    url = _customer_url(client)
    zero, _ = _adjust(client, url, 0)
    assert zero.status_code == 422 and "Add or take away at least one point." in text(zero)
    blank, _ = _adjust(client, url, 5, reason=" ")
    assert blank.status_code == 422
    assert 'id="adjust-reason-error"' in blank.get_data(as_text=True)


def test_a_negative_balance_is_shown_and_stops_redemptions(client, shop):
    url = _customer_url(client)
    _adjust(client, url, -130, reason="Duplicate credit")
    page = text(client.get(url))
    assert "-30" in page and "Below zero after a reversal" in page
    html = client.get(url).get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', html).group(1)
    refused = client.post(url + "/redeem", data={"program": "vip", "points": "1",
                                                 "idempotency_key": key})
    assert refused.status_code == 422 and "redemptions resume once it is above zero" in text(refused)


def test_the_program_form_turns_the_reversal_text_on(client, shop):
    form = {"name": "VIP", "points_per_unit": "1", "unit_amount": "100", "multiplier": "2",
            "min_amount": "0", "sms_on_reversal": "y"}
    assert client.post("/programs/vip/edit", data=form).status_code == 302
    assert shop.api("GET", "/programs/vip").get_json()["sms_on_reversal"] is True
    box = re.search(r'<input[^>]*id="sms_on_reversal"[^>]*>',
                    client.get("/programs/vip/edit").get_data(as_text=True)).group(0)
    assert "checked" in box
