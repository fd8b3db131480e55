"""The dashboard's setup checklist always names the next step as a link, and goes away once
the shop is set up and paid."""

import re

from loyalty.services import crediting
from tests.integration.conftest import VIP, c2b_body, make_shop
from tests.web.conftest import login_as, sign_up, text
from tests.web.test_channels import _new_channel


def _next_step(client) -> tuple[str, str]:
    html = client.get("/dashboard").get_data(as_text=True)
    found = re.search(r'<a class="button primary" id="setup-next" href="([^"]+)">([^<]+)</a>', html)
    assert found, "no next step on the dashboard"
    return found.group(1), found.group(2)


def test_a_new_shop_is_led_from_adding_a_channel_to_verifying_it(client):
    sign_up(client)
    assert _next_step(client) == ("/channels/new", "Next: Add a channel")
    assert "Set up: 0 of 6 done" in text(client.get("/dashboard"))
    channel_id = _new_channel(client)
    assert _next_step(client) == (f"/channels/{channel_id}/setup", "Next: Verify with Safaricom")
    assert "Set up: 1 of 6 done" in text(client.get("/dashboard"))


def test_a_set_up_shop_that_has_been_paid_sees_no_checklist(client, shop):
    page = text(client.get("/dashboard"))
    assert "Set up:" not in page and "Next:" not in page


def test_the_first_payment_ticks_the_last_step_in_the_live_part(client, db_session):
    """A dashboard left open on the checklist polls /dashboard/live (with `checklist=1`,
    which the page asks for): the first payment ticks the last step and the channel card
    stops waiting for it, without a reload (issue 18)."""
    shop = make_shop(client, db_session, programs=[VIP],
                     mapping={"default": "loyalty", "VIP*": "vip"})
    login_as(client, shop.merchant_id)
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'data-live-url="/dashboard/live?checklist=1"' in page
    before = text(client.get("/dashboard/live?checklist=1"))
    assert "Set up: 5 of 6 done" in before and "Next: See the payments" in before
    assert "Working: waiting for the first payment." in before
    assert shop.hook("c2b/confirmation", c2b_body()).status_code == 200
    crediting.credit_waiting()
    after = text(client.get("/dashboard/live?checklist=1"))
    assert "Set up: 6 of 6 done" in after and "Next:" not in after
    assert "All set up: payments now earn points." in after
    assert "Working: last payment less than a minute ago." in after
    assert "1 payments, KES 5,000, 100 points" in after  # the channel card's today
    # A dashboard opened afterwards has nothing left to set up, and polls without it.
    assert "Set up:" not in text(client.get("/dashboard"))
    assert 'data-live-url="/dashboard/live"' in client.get("/dashboard").get_data(as_text=True)
    assert "Set up:" not in text(client.get("/dashboard/live"))
