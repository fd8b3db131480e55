"""A template applied before the shop had a channel sets its account rules on the channel
added afterwards (issue 17): over the API and the channels file import, never over rules
the merchant gave the channel, and a VIP payment then earns as the template says."""

import sqlalchemy as sa

from loyalty.services import crediting
from loyalty.tenancy import all_merchants
from tests.conftest import register_merchant
from tests.integration.conftest import Shop, c2b_body, forget_routes

PAYBILL = {"name": "Main", "shortcode": "174379", "channel_type": "paybill",
           "consumer_key": "demo-consumer-key", "consumer_secret": "demo-consumer-secret"}


def _new_shop(client) -> Shop:
    _, key = register_merchant(client)
    shop = Shop(merchant_id=0, key=key, channel={}, client=client)
    shop.merchant_id = shop.api("GET", "/merchants/me").get_json()["id"]
    return shop


def _apply_without_a_channel(shop, key="electronics-vip", **params):
    applied = shop.api("POST", f"/setup-templates/{key}/apply", json={
        "version": 1, "params": params, "idempotency_key": f"{key}-early"})
    assert applied.status_code == 200, applied.get_json()
    assert applied.get_json()["channel_id"] is None
    return applied.get_json()


def _events(shop, channel_id) -> list[dict]:
    return shop.api("GET", f"/mpesa-channels/{channel_id}/events").get_json()["items"]


def test_a_paybill_added_after_the_template_gets_its_rules_and_earns_by_them(
        client, db_session):
    shop = _new_shop(client)
    _apply_without_a_channel(shop, vip_multiplier="3")
    created = shop.api("POST", "/mpesa-channels", json=PAYBILL)
    assert created.status_code == 201, created.get_json()
    channel = created.get_json()
    assert channel["account_mapping"] == {"default": "loyalty", "VIP*": "vip",
                                          "DELIVERY": "delivery"}
    [event] = _events(shop, channel["id"])
    assert event["kind"] == "created"
    assert event["summary"] == ("Channel added with the account rules of the setup template "
                                "you applied before it.")
    # The dry run a merchant would do: VIP007 earns in vip at the multiplier chosen (x3).
    resolved = shop.api("GET", f"/mpesa-channels/{channel['id']}/resolve"
                               "?account=VIP007&amount=1250").get_json()
    assert resolved["program"] == "vip" and resolved["points"] == 37
    # The template now owns those rules: planning it again with the channel changes nothing.
    again = shop.api("POST", "/setup-templates/electronics-vip/plan", json={
        "version": 1, "params": {"vip_multiplier": "3"}, "channel_id": channel["id"]}).get_json()
    assert {r["action"] for r in again["resources"] if r["kind"] == "mapping"} == {"unchanged"}
    # Unchanged, yet the plan still says what each rule is (the page's "Already so" line).
    assert {r["key"]: r["value"] for r in again["resources"] if r["kind"] == "mapping"} == {
        "default": {"program": "loyalty"}, "VIP*": {"program": "vip"},
        "DELIVERY": {"program": "delivery"}}
    assert not again["notes"]
    # And a payment to VIP007 is credited in vip.
    shop.channel = {**channel, "callback_token": _token(db_session, channel["id"])}
    _activate(db_session, channel["id"])
    assert shop.hook("c2b/confirmation", c2b_body(trans_id="RKTQDM7X1A", amount="1250.00",
                                                 bill_ref="VIP007")).status_code == 200
    crediting.credit_waiting()
    [payment] = shop.api("GET", "/transactions").get_json()["items"]
    assert payment["matched_pattern"] == "VIP*" and payment["points"] == 37


def test_rules_the_merchant_gives_the_channel_are_kept(client, db_session):
    shop = _new_shop(client)
    _apply_without_a_channel(shop)
    own = {"default": "vip", "GOLD": "delivery"}
    created = shop.api("POST", "/mpesa-channels", json={**PAYBILL, "account_mapping": own})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["account_mapping"] == own
    [event] = _events(shop, created.get_json()["id"])
    assert event["summary"] == "Channel added."


def test_a_till_gets_nothing_from_a_paybill_template_and_a_deleted_program_is_left_out(
        client, db_session):
    shop = _new_shop(client)
    _apply_without_a_channel(shop)
    till = shop.api("POST", "/mpesa-channels", json={
        **PAYBILL, "channel_type": "till", "shortcode": "600333", "store_number": "600111"})
    assert till.status_code == 201, till.get_json()
    assert till.get_json()["account_mapping"] == {}
    assert shop.api("DELETE", "/programs/delivery").status_code == 204
    paybill = shop.api("POST", "/mpesa-channels", json={**PAYBILL, "name": "Second"})
    assert paybill.status_code == 201, paybill.get_json()
    assert paybill.get_json()["account_mapping"] == {"default": "loyalty", "VIP*": "vip"}


def test_the_channels_file_import_sets_them_too(client, db_session):
    shop = _new_shop(client)
    _apply_without_a_channel(shop)
    imported = shop.api("POST", "/mpesa-channels/import", json={"channels": [PAYBILL]})
    assert imported.status_code == 201, imported.get_json()
    [channel] = imported.get_json()["items"]
    assert channel["account_mapping"]["VIP*"] == "vip"
    [event] = _events(shop, channel["id"])
    assert "from an imported file, with the account rules of the setup template" \
        in event["summary"]


def _token(db_session, channel_id) -> str:
    with all_merchants():
        return db_session.execute(sa.text("SELECT callback_token FROM mpesa_channels "
                                          "WHERE id = :id"), {"id": channel_id}).scalar()


def _activate(db_session, channel_id) -> None:
    with all_merchants():  # the test's own shortcut past verification, as make_shop
        db_session.execute(sa.text(
            "UPDATE mpesa_channels SET status='active', is_active=true, "
            "verification_state='done', urls_state='done' WHERE id = :id"), {"id": channel_id})
    forget_routes()
