"""The dashboard a shop owner opens: who paid just now, what they earned, whether the text
went, today against yesterday, and each channel's state in words that say what to do."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from loyalty.services import crediting
from tests.integration.conftest import c2b_body, trans_time
from tests.web.conftest import sign_up, text


def _pay(shop, **body):
    assert shop.hook("c2b/confirmation", c2b_body(**body)).status_code == 200
    crediting.credit_waiting()


def test_feed_shows_who_paid_what_they_earned_and_the_text(client, shop):
    page = text(client.get("/dashboard"))
    feed = page[page.index("Recent payments"):]
    assert "KES 5,000 from John Doe" in feed
    assert "100 points" in feed
    # A sandbox channel texts only the merchant's test numbers, and the feed says so.
    assert "text skipped sandbox: not your number" in feed
    assert "RKTQDM7W6S" in feed


def test_payer_known_only_by_a_hashed_number_is_an_m_pesa_customer(client, shop):
    _pay(shop, trans_id="RKTQDM7W7T", amount="300.00", bill_ref="X1", first_name="",
         LastName="", MSISDN="a" * 64)
    feed = text(client.get("/dashboard/live"))
    assert "KES 300 from M-Pesa customer" in feed
    assert feed.index("KES 300") < feed.index("KES 5,000")  # newest first


def test_live_part_shows_a_new_payment_without_the_page(client, shop):
    before = client.get("/dashboard/live")
    assert before.status_code == 200
    assert "<html" not in before.get_data(as_text=True)  # a fragment to swap in, not a page
    assert "KES 1,200" not in text(before)
    _pay(shop, trans_id="RKTQDM7W8U", amount="1200.00", bill_ref="VIP002")
    after = text(client.get("/dashboard/live"))
    assert "KES 1,200 from John Doe" in after
    assert "24 points" in after  # VIP: 2 points per KES 100
    assert re.search(r"2 payments\b", after)


def test_page_tells_the_browser_where_to_poll(client, shop):
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'data-live-url="/dashboard/live"' in html
    # app.js first: app-live.js, which polls, uses its helpers.
    assert html.index('src="/assets/app.js"') < html.index('src="/assets/app-live.js"')


def test_today_is_compared_with_yesterday(client, shop, db_session):
    yesterday = datetime.now(timezone.utc) - timedelta(days=1)
    _pay(shop, trans_id="RKTQDM7W9V", amount="2000.00", bill_ref="VIP003",
         TransTime=trans_time(yesterday))
    db_session.execute(sa.text("UPDATE sms_messages SET status = 'sent', sent_at = now()"))
    page = text(client.get("/dashboard"))
    today = page[page.index("Today"):page.index("Recent payments")]
    assert "1 payments" in today
    assert "KES 5,000 received ▲ yesterday KES 2,000" in today
    assert "100 points given ▲ yesterday 40" in today
    assert "texts sent" in today


def test_channel_health_in_plain_words(client, shop, db_session):
    assert "Working: last payment less than a minute ago." in text(client.get("/dashboard"))
    db_session.execute(sa.text("UPDATE mpesa_channels SET health_state = 'failing', "
                               "health_error = 'Invalid Access Token'"))
    page = text(client.get("/dashboard"))
    assert "Safaricom is not answering for this number: Invalid Access Token." in page


def test_a_new_merchant_is_sent_to_add_a_channel(client):
    sign_up(client)
    response = client.get("/dashboard")
    page = text(response)
    assert "No payments yet: connect your M-Pesa PayBill or Till first." in page
    assert 'href="/channels/new"' in response.get_data(as_text=True)


def test_a_channel_not_yet_active_links_to_its_setup(client):
    sign_up(client)
    response = client.post("/channels/new", data={
        "name": "Shop till", "channel_type": "till", "shortcode": "600111",
        "store_number": "600222", "environment": "sandbox"})
    assert response.status_code in (200, 302), text(response)[:500]
    response = client.get("/dashboard")
    page = text(response)
    assert "is not taking payments until it is active" in page, page
    assert re.search(r'href="/channels/\d+/setup"', response.get_data(as_text=True))
