"""Setup templates in the web UI: cards, the plan in the merchant's words, apply, a bad
answer next to its question, and a conflict that needs the merchant's consent."""

import re

from tests.web.conftest import sign_up, text
from tests.web.test_channels import _new_channel


def _key(page) -> str:
    return re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"',
                     page.get_data(as_text=True)).group(1)


def test_choose_a_template_see_the_plan_and_apply_it(client):
    sign_up(client)
    assert 'id="setup-from-template" href="/setup/templates"' in \
        client.get("/dashboard").get_data(as_text=True)
    cards = text(client.get("/setup/templates"))
    assert "Café stamp card" in cards and "Pharmacy points, receipts only" in cards
    assert "For a Till or Buy Goods" in cards
    page = client.get("/setup/templates/salon-stamps")
    shown = text(page)
    assert "New Program “Salon visits”: a card of 6 stamps for free hair treatment" in shown
    assert "Swahili receipt for visits: “Asante John! Zimebaki ziara 3 upate free hair " \
        "treatment.”" in shown
    assert "None yet (programs and texts only)" in shown
    applied = client.post("/setup/templates/salon-stamps", data={
        "p_visits_for_reward": "8", "p_reward": "free manicure", "p_minimum_spend": "500",
        "channel_id": "", "idempotency_key": _key(page), "apply": "y"})
    assert applied.status_code == 302 and applied.location.endswith("/programs")
    programs = text(client.get("/programs"))
    assert "Salon visits visits default" in programs and "8 for free manicure" in programs
    # Shown again with its defaults: the template's own program changes back, no conflict.
    exported = client.get("/setup/my-setup.json")
    assert exported.headers["Content-Disposition"].startswith("attachment")
    assert {p["code"] for p in exported.get_json()["programs"]} == {"loyalty", "visits"}
    again = text(client.get("/setup/templates/salon-stamps"))
    assert "Changes Program “visits”: smallest payment 500.00 → 300; stamps for a reward " \
        "8 → 6" in again
    assert "Already so English receipt for visits" in again


def test_a_parameter_out_of_bounds_is_shown_next_to_it_and_nothing_changes(client):
    sign_up(client)
    page = client.get("/setup/templates/electronics-vip")
    refused = client.post("/setup/templates/electronics-vip", data={
        "p_vip_multiplier": "9", "p_delivery_orders": "5", "p_delivery_reward": "free delivery",
        "channel_id": "", "idempotency_key": _key(page), "apply": "y"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert re.search(r'id="p_vip_multiplier-error">At most 5\.', html)
    assert "VIP" not in text(client.get("/programs"))


def test_a_program_made_by_hand_is_replaced_only_when_the_box_is_ticked(client):
    sign_up(client)
    client.post("/programs/new", data={"code": "vip", "name": "VIP", "points_per_unit": "1",
                                       "unit_amount": "100", "multiplier": "3",
                                       "min_amount": "0"})
    page = client.get("/setup/templates/electronics-vip")
    assert "Replaces your own Program “vip”: multiplier 3.00 → 2" in text(page)
    form = {"p_vip_multiplier": "2", "p_delivery_orders": "5",
            "p_delivery_reward": "free delivery", "channel_id": "",
            "idempotency_key": _key(page), "apply": "y"}
    refused = client.post("/setup/templates/electronics-vip", data=form)
    assert refused.status_code == 422 and "Apply with adopt" in text(refused)
    adopted = client.post("/setup/templates/electronics-vip", data={**form, "adopt": "y"})
    assert adopted.status_code == 302
    assert "2 points for every KES 100 (double points)" in text(client.get("/programs"))


def test_the_plan_tells_what_the_rules_would_have_earned_over_the_last_90_days(client, shop):
    # shop: a VIP program at double points and one KES 5,000 VIP001 payment (100 points).
    page = client.get("/setup/templates/electronics-vip")
    planned = client.post("/setup/templates/electronics-vip", data={
        "p_vip_multiplier": "3", "p_delivery_orders": "5", "p_delivery_reward": "free delivery",
        "channel_id": str(shop.channel["id"]), "idempotency_key": _key(page), "plan": "1"})
    assert planned.status_code == 200
    shown = text(planned)
    assert "Over the last 90 days" in shown
    assert "“VIP”: in the last 90 days 1 payment from 1 customer earned in it. They earned " \
        "100 points; with the template's rules: 150 points, 50 more points." in shown
    assert "“Delivery”: none of your payments of the last 90 days would have earned here." \
        in shown


def test_a_merchant_without_payments_sees_no_backtest_in_the_plan(client):
    sign_up(client)
    shown = text(client.get("/setup/templates/electronics-vip"))
    assert "New Program “VIP”" in shown and "Over the last 90 days" not in shown


def test_a_channel_added_after_the_template_gets_its_rules_and_says_so(client):
    # The natural order (issue 17): sign up, apply, then add the PayBill.
    sign_up(client)
    page = client.get("/setup/templates/electronics-vip")
    assert "its account rules are set when you add one, unless you give it rules of your " \
        "own." in text(page)
    applied = client.post("/setup/templates/electronics-vip", data={
        "p_vip_multiplier": "2", "p_delivery_orders": "5", "p_delivery_reward": "free delivery",
        "channel_id": "", "idempotency_key": _key(page), "apply": "y"})
    assert applied.status_code == 302
    channel_id = _new_channel(client)
    setup = text(client.get(f"/channels/{channel_id}/setup"))
    assert "The account rules of 'Electronics shop with VIP tiers' are set on this channel: " \
        "default → loyalty, VIP* → vip, DELIVERY → delivery." in setup
    history = text(client.get(f"/channels/{channel_id}"))
    assert "Channel added with the account rules of the setup template you applied before " \
        "it." in history
    # Nothing left to do on the template's page: its rules are on the channel already.
    again = text(client.get("/setup/templates/electronics-vip"))
    # Each rule already in place is said whole: which numbers, and the program they earn in.
    assert "Already so Account numbers starting with VIP earn in vip Already so" in again
    assert "Already so Account number DELIVERY earns in delivery" in again
    assert "Already so Program “VIP”: 2 points for every KES 100 (double points)" in again
    assert "No channel of a kind this template fits yet" not in again
