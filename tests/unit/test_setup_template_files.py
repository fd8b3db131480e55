"""The shipped setup templates: each file a valid manifest, each published version frozen,
and parameters checked against their bounds before anything is planned."""

import hashlib
import json
from decimal import Decimal

import pytest
from marshmallow import ValidationError

from loyalty.errors import ValidationFailed
from loyalty.models import DEFAULT_PROGRAM_CODE
from loyalty.schemas.setup_templates import ManifestSchema
from loyalty.services.setup_templates import catalog, planning
from loyalty.web.reads import PROMOTIONAL_WORDS

# Published versions: a file here never changes. To change a template, add the next version
# (a new file) and its hash below; editing a listed file fails this test.
PUBLISHED = {
    "cafe-stamps/1.json": "e6cbb1c01956a6cd374b0d08684ea12b418749c073b0a25b173e418dcd031350",
    "electronics-vip/1.json": "cc8c27b0d17af519a8106b39145f23f4399a7a68c1366191748a2642b15d390a",
    "pharmacy-points/1.json": "ad4bbfa177c91d3eeb85ae34864f7eb39f8c54c793d07d938fa754227e4cdec0",
    "restaurant-branches/1.json":
        "a740b59ab1b5cc187923cd36458e844fba90d63abac53b73bcfa1322b89405e1",
    "salon-stamps/1.json": "85d484961b60396aa5663d0751234f0ff952c90f7591438a4f03636ed3d4d4ce",
}


def _files():
    return {str(p.relative_to(catalog.HOME)): p for p in sorted(catalog.HOME.glob("*/*.json"))}


def test_every_shipped_file_is_published_and_unchanged():
    files = _files()
    unpublished = sorted(set(files) - set(PUBLISHED))
    assert not unpublished, f"add the sha256 of {unpublished} to PUBLISHED to publish them"
    assert not set(PUBLISHED) - set(files), "a published version was deleted"
    for name, path in files.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == PUBLISHED[name], (
            f"{name} was published and must not change: add a new version file instead")


def test_every_shipped_file_is_a_valid_manifest_and_the_five_are_there():
    catalog.catalog.cache_clear()
    loaded = catalog.catalog()
    assert {"cafe-stamps", "restaurant-branches", "electronics-vip", "salon-stamps",
            "pharmacy-points"} <= set(loaded)
    for versions in loaded.values():
        for manifest in versions.values():
            languages = {(t["program"], t["event"], t["language"]) for t in manifest["sms"]}
            # Every English text has its Swahili one.
            assert {(p, e) for p, e, lang in languages if lang == "en"} <= \
                {(p, e) for p, e, lang in languages if lang == "sw"}, manifest["key"]
    assert loaded["cafe-stamps"][1]["channel_types"] == ["till", "buygoods"]
    assert any(m["pattern"] == "VIP*" for m in loaded["electronics-vip"][1]["mappings"])


def test_a_manifest_with_a_dangling_reference_or_a_till_prefix_is_refused():
    base = json.loads((catalog.HOME / "electronics-vip" / "1.json").read_text())
    dangling = {**base, "mappings": [{"pattern": "VIP*", "program": "gold"}]}
    with pytest.raises(ValidationError, match="no program 'gold'"):
        ManifestSchema().load(dangling)
    on_till = {**base, "channel_types": ["till"]}
    with pytest.raises(ValidationError, match="only 'default'"):
        ManifestSchema().load(on_till)
    unknown_param = {**base, "programs": [{**base["programs"][1],
                                           "rule": {"multiplier": {"param": "nope"}}}],
                     "mappings": [], "sms": []}
    with pytest.raises(ValidationError, match="no parameter 'nope'"):
        ManifestSchema().load(unknown_param)
    bad_text = {**base, "sms": [{"program": "vip", "event": "earn", "language": "sw",
                                 "text": "Habari {customer.__class__}"}]}
    with pytest.raises(ValidationError):
        ManifestSchema().load(bad_text)


def test_parameters_are_typed_and_bounded_and_named_when_wrong():
    manifest = catalog.manifest("electronics-vip", 1)
    values = planning.resolve_params(manifest, {"vip_multiplier": "3"})
    assert values == {"vip_multiplier": Decimal("3"), "delivery_orders": 5,
                      "delivery_reward": "free delivery"}
    for given, name, words in (({"vip_multiplier": "9"}, "vip_multiplier", "At most 5."),
                               ({"delivery_orders": 1}, "delivery_orders", "At least 2."),
                               ({"delivery_orders": "five"}, "delivery_orders", "whole number"),
                               ({"delivery_reward": "x" * 61}, "delivery_reward", "60"),
                               ({"delivery_reward": "a\x00b"}, "delivery_reward", "NUL"),
                               ({"tier": "gold"}, "tier", "no parameter")):
        with pytest.raises(ValidationFailed) as caught:
            planning.resolve_params(manifest, given)
        assert words in caught.value.fields[f"params.{name}"][0], given
    choice = catalog.manifest("restaurant-branches", 1)
    with pytest.raises(ValidationFailed) as caught:
        planning.resolve_params(choice, {"branch_prefix": "XX"})
    assert "BR" in caught.value.fields["params.branch_prefix"][0]


def test_the_plan_names_creates_updates_conflicts_and_unchanged():
    assert planning.DEFAULT_PROGRAM_CODE == DEFAULT_PROGRAM_CODE
    manifest = catalog.manifest("restaurant-branches", 1)
    desired = planning.desired_state(manifest, planning.resolve_params(
        manifest, {"branch_prefix": "SHOP"}))
    assert desired.mappings == {"default": "dining", "SHOP*": "dining", "DEL*": "delivery"}
    current = planning.Current(
        programs={"dining": {"name": "Dining", "is_default": True,
                             **planning.RULE_DEFAULTS}},
        default_program="dining", mappings={"del*": "dining", "default": "dining"}, sms={})
    actions = {(r["kind"], r["key"]): r for r in planning.plan(desired, current, set())}
    assert actions[("program", "dining")]["action"] == "unchanged"
    assert actions[("program", "delivery")]["action"] == "create"
    assert actions[("mapping", "SHOP*")]["action"] == "create"
    assert actions[("mapping", "default")]["action"] == "unchanged"
    conflict = actions[("mapping", "DEL*")]
    assert conflict["action"] == "conflict"
    assert conflict["changes"] == {"program": {"from": "dining", "to": "delivery"}}
    owned = planning.plan(desired, current, {"mapping:DEL*"})
    assert next(r for r in owned if r["key"] == "DEL*")["action"] == "update"


def test_shipped_texts_are_receipts_not_promotions():
    """Receipts are transactional (services/promotions.py): no template ships an offer, and
    the pharmacy's never names a purchase or a reward."""
    for versions in catalog.catalog().values():
        for manifest in versions.values():
            for sms in manifest["sms"]:
                lowered = sms["text"].lower()
                assert not [w for w in PROMOTIONAL_WORDS if w in lowered], sms
    pharmacy = catalog.manifest("pharmacy-points", 1)
    assert {s["event"] for s in pharmacy["sms"]} == {"earn"}
    assert all("{reward}" not in s["text"] and "{program_name}" not in s["text"]
               for s in pharmacy["sms"])
