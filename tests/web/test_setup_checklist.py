"""The dashboard's setup checklist always names the next step as a link, and goes away once
the shop is set up and paid."""

import re

from tests.web.conftest import sign_up, text
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
