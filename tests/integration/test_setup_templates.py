"""Setup templates over the API: list, plan, apply (all or nothing, idempotent, conflicts and
adopt), and the merchant's own setup exported and copied to a fresh merchant."""

import pytest

from loyalty.schemas.setup_templates import ManifestSchema
from loyalty.services import setup_templates
from loyalty.services.setup_templates import catalog
from loyalty.tenancy import tenant_context
from tests.integration.conftest import make_shop

TEMPLATES = sorted(catalog.catalog())


def _programs(shop) -> dict[str, dict]:
    return {p["code"]: p for p in shop.api("GET", "/programs").get_json()["items"]}


def _mapping(shop) -> dict[str, str]:
    return shop.api("GET", f"/mpesa-channels/{shop.channel['id']}").get_json()["account_mapping"]


def _apply(shop, key, **body):
    body = {"version": 1, "params": {}, "idempotency_key": f"{key}-1", **body}
    return shop.api("POST", f"/setup-templates/{key}/apply", json=body)


def test_the_templates_are_listed_and_shown_with_their_versions(client, db_session):
    shop = make_shop(client, db_session)
    listed = shop.api("GET", "/setup-templates").get_json()
    assert listed["next_cursor"] is None
    assert {t["key"] for t in listed["items"]} >= {"cafe-stamps", "electronics-vip",
                                                    "pharmacy-points", "restaurant-branches",
                                                    "salon-stamps"}
    shown = shop.api("GET", "/setup-templates/electronics-vip").get_json()
    assert shown["versions"] == [1]
    first = shop.api("GET", "/setup-templates?limit=2").get_json()
    rest = shop.api("GET", f"/setup-templates?cursor={first['next_cursor']}").get_json()
    assert [t["key"] for t in first["items"] + rest["items"]] == \
        [t["key"] for t in listed["items"]] and rest["next_cursor"] is None
    assert [p["name"] for p in shown["latest"]["parameters"]][0] == "vip_multiplier"
    assert shop.api("GET", "/setup-templates/nope").status_code == 404
    wrong = shop.api("POST", "/setup-templates/electronics-vip/plan", json={"version": 7})
    assert wrong.status_code == 422 and "version" in wrong.get_json()["error"]["fields"]


@pytest.mark.parametrize("key", TEMPLATES)
def test_every_shipped_template_applies_on_a_fresh_merchant(client, db_session, key):
    manifest = catalog.manifest(key, max(catalog.versions_of(key)))
    channel_type = manifest["channel_types"][0]
    shop = make_shop(client, db_session, channel_type=channel_type,
                     shortcode="174379" if channel_type == "paybill" else "600222")
    applied = _apply(shop, key, version=manifest["version"])
    assert applied.status_code == 200, applied.get_json()
    result = applied.get_json()
    assert result["replayed"] is False and result["channel_id"] == shop.channel["id"]
    # What every merchant starts with (the `loyalty` program, `default` → it) is no conflict.
    assert {r["action"] for r in result["resources"]} <= {"create", "update", "unchanged"}
    programs = _programs(shop)
    assert {p["code"] for p in manifest["programs"]} <= set(programs)
    default = next((p["code"] for p in manifest["programs"] if p["default"]), "loyalty")
    assert [code for code, p in programs.items() if p["is_default"]] == [default]
    assert set(_mapping(shop)) == {m["pattern"].replace("{branch_prefix}", "BR")
                                   for m in manifest["mappings"]}
    again = shop.api("POST", f"/setup-templates/{key}/plan",
                     json={"version": manifest["version"]}).get_json()
    assert {r["action"] for r in again["resources"]} == {"unchanged"}


def test_apply_twice_is_once_and_the_same_key_with_other_params_is_409(client, db_session):
    shop = make_shop(client, db_session)
    first = _apply(shop, "electronics-vip", params={"vip_multiplier": "3"})
    assert first.status_code == 200
    assert _programs(shop)["vip"]["multiplier"] == "3.00"
    shop.api("PATCH", "/programs/vip", json={"multiplier": "4"})  # changed since by hand
    again = _apply(shop, "electronics-vip", params={"vip_multiplier": "3"})
    assert again.status_code == 200
    assert again.get_json() == {**first.get_json(), "replayed": True}
    assert _programs(shop)["vip"]["multiplier"] == "4.00"  # a replay writes nothing
    other = _apply(shop, "electronics-vip", params={"vip_multiplier": "2"})
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"


def test_bad_parameters_are_422_naming_the_parameter_and_bound(client, db_session):
    shop = make_shop(client, db_session)
    for path, extra in (("plan", {}), ("apply", {"idempotency_key": "k"})):
        response = shop.api("POST", f"/setup-templates/electronics-vip/{path}", json={
            "version": 1, "params": {"vip_multiplier": "50"}, **extra})
        assert response.status_code == 422
        assert response.get_json()["error"]["fields"] == {
            "params.vip_multiplier": ["At most 5."]}
    assert "vip" not in _programs(shop)


def test_a_conflict_is_planned_refused_then_adopted_and_later_updated(client, db_session):
    shop = make_shop(client, db_session, programs=[{"code": "vip", "name": "VIP",
                                                    "multiplier": "3"}],
                     mapping={"default": "loyalty", "vip*": "vip"})
    planned = shop.api("POST", "/setup-templates/electronics-vip/plan",
                       json={"version": 1}).get_json()
    by_key = {(r["kind"], r["key"]): r for r in planned["resources"]}
    assert by_key[("program", "vip")]["action"] == "conflict"
    assert by_key[("program", "vip")]["changes"] == {"multiplier": {"from": "3.00", "to": "2"}}
    assert by_key[("mapping", "VIP*")]["action"] == "unchanged"  # matching ignores case
    assert by_key[("program", "delivery")]["action"] == "create"

    refused = _apply(shop, "electronics-vip")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "setup_conflict"
    assert "program vip" in refused.get_json()["error"]["message"]
    assert "delivery" not in _programs(shop)  # all or nothing

    adopted = _apply(shop, "electronics-vip", adopt=True, idempotency_key="adopt-1")
    assert adopted.status_code == 200 and adopted.get_json()["adopted"] is True
    programs = _programs(shop)
    assert programs["vip"]["multiplier"] == "2.00" and "delivery" in programs
    assert _mapping(shop)["DELIVERY"] == "delivery"

    # The template owns vip now: another multiplier is an update, not a conflict.
    replanned = shop.api("POST", "/setup-templates/electronics-vip/plan", json={
        "version": 1, "params": {"vip_multiplier": "3"}}).get_json()
    vip = next(r for r in replanned["resources"] if r["key"] == "vip")
    assert vip["action"] == "update"
    assert _apply(shop, "electronics-vip", params={"vip_multiplier": "3"},
                  idempotency_key="raise-1").status_code == 200


def test_a_channel_of_another_kind_is_422_and_none_leaves_the_rules_for_later(client,
                                                                             db_session):
    shop = make_shop(client, db_session, channel_type="till", shortcode="600333")
    wrong = shop.api("POST", "/setup-templates/electronics-vip/plan",
                     json={"version": 1, "channel_id": shop.channel["id"]})
    assert wrong.status_code == 422 and "channel_id" in wrong.get_json()["error"]["fields"]
    unspecified = shop.api("POST", "/setup-templates/electronics-vip/plan",
                           json={"version": 1}).get_json()
    assert unspecified["channel_id"] is None and unspecified["notes"]
    assert not [r for r in unspecified["resources"] if r["kind"] == "mapping"]


def test_the_exported_setup_validates_and_copies_to_a_fresh_merchant(client, db_session):
    source = make_shop(client, db_session)
    assert _apply(source, "restaurant-branches", params={"branch_prefix": "SHOP"}).status_code \
        == 200
    source.api("POST", "/programs", json={"code": "staff", "name": "Staff", "multiplier": "0.5",
                                          "points_expiry_days": 90})
    source.api("PATCH", f"/mpesa-channels/{source.channel['id']}", json={
        "account_mapping": {**_mapping(source), "STAFF": "staff"}})
    exported = source.api("GET", "/merchants/me/setup")
    assert exported.status_code == 200
    manifest = ManifestSchema().load(exported.get_json())
    assert {"pattern": "STAFF", "program": "staff"} in manifest["mappings"]
    assert {"program": "dining", "event": "earn", "language": "sw",
            "text": catalog.manifest("restaurant-branches", 1)["sms"][1]["text"]} \
        in manifest["sms"]

    copy = make_shop(client, db_session, business_name="Second Branch Ltd")
    with tenant_context(copy.merchant_id):
        setup_templates.apply_manifest(manifest, {}, channel_id=copy.channel["id"], adopt=True)
    copied = copy.api("GET", "/merchants/me/setup").get_json()
    for part in ("programs", "mappings", "sms", "channel_types"):
        assert copied[part] == exported.get_json()[part], part
