"""Planning a template, pure: parameters checked, the desired setup, and its difference from
what the merchant has, per resource by natural key (program code, mapping pattern,
program/event/language of an SMS text).

A resource that exists and differs is an `update` when an earlier apply of the same
template made or adopted it, and a `conflict` when the merchant made it by hand: applying
would overwrite their work, so that takes `adopt`. A text the merchant never wrote (the
program's built-in one) is a `create`, not a conflict, and what every merchant starts with
(the program `loyalty` as registered, a channel's `default` rule to it) is an `update`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty.errors import ValidationFailed
from loyalty.services.account_mapping import DEFAULT_KEY

# A program's full rule as a template states it; what the template leaves out is the default.
RULE_DEFAULTS: dict[str, Any] = {
    "points_per_unit": 1, "unit_amount": Decimal("100"), "multiplier": Decimal("1"),
    "min_amount": Decimal("0"), "stamps_required": None, "stamp_reward": None,
    "points_expiry_days": None,
}
STAMPS_DEFAULTS = {**RULE_DEFAULTS, "points_per_unit": 0}
# What registration and a new channel make (services/merchants.py): nobody's handiwork.
# (models.DEFAULT_PROGRAM_CODE, kept here so this module stays pure; a unit test compares.)
DEFAULT_PROGRAM_CODE = "loyalty"
STARTING_PROGRAM = {"name": "Loyalty", **RULE_DEFAULTS}
DECIMAL_FIELDS = ("unit_amount", "multiplier", "min_amount")
INT_FIELDS = ("points_per_unit", "stamps_required", "points_expiry_days")
_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


@dataclass
class Desired:
    programs: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_program: str | None = None
    mappings: dict[str, str] = field(default_factory=dict)
    sms: dict[tuple[str, str, str], str] = field(default_factory=dict)


@dataclass
class Current:
    programs: dict[str, dict[str, Any]]
    default_program: str | None
    mappings: dict[str, str] | None  # None: no channel to map on
    sms: dict[tuple[str, str, str], str]


def resolve_params(manifest: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The parameters' values: given ones checked against type and bounds, defaults for the
    rest. ValidationFailed names each parameter (`params.<name>`) with the bound it broke."""
    declared = {p["name"]: p for p in manifest.get("parameters", [])}
    problems: dict[str, list[str]] = {}
    for name in given:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            problems[f"params.{name}"] = [f"This template has no parameter '{name}' "
                                          f"(it has: {known})."]
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        raw = given.get(name, spec["default"])
        try:
            values[name] = _typed(spec, raw)
        except ValueError as exc:
            problems[f"params.{name}"] = [str(exc)]
    if problems:
        raise ValidationFailed("Some parameters are out of bounds: " + ", ".join(
            f"{k[7:]} ({v[0]})" for k, v in problems.items()), fields=problems)
    return values


def _typed(spec: dict[str, Any], raw: Any) -> Any:
    kind = spec["type"]
    if kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, (int, str)):
            raise ValueError("Must be a whole number, e.g. 5.")
        try:
            value: Any = int(str(raw).strip())
        except ValueError:
            raise ValueError("Must be a whole number, e.g. 5.") from None
    elif kind == "decimal":
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise ValueError("Must be a number, e.g. 1.5.")
        try:
            value = Decimal(str(raw).strip())
        except InvalidOperation:
            raise ValueError("Must be a number, e.g. 1.5.") from None
        if not value.is_finite():
            raise ValueError("Must be a number, e.g. 1.5.")
    else:
        if not isinstance(raw, str):
            raise ValueError("Must be text.")
        value = raw.strip()
        if "\x00" in value or not value:
            raise ValueError("Must be some text." if not value else "Must not hold NUL bytes.")
        limit = spec.get("max_length", 100)
        if len(value) > limit:
            raise ValueError(f"At most {limit} characters.")
        if kind == "choice" and value not in spec["choices"]:
            raise ValueError("Must be one of: " + ", ".join(spec["choices"]) + ".")
        return value
    low, high = spec.get("min"), spec.get("max")
    cast = int if kind == "int" else Decimal
    if low is not None and value < cast(str(low)):
        raise ValueError(f"At least {low}.")
    if high is not None and value > cast(str(high)):
        raise ValueError(f"At most {high}.")
    return value


def desired_state(manifest: dict[str, Any], params: dict[str, Any]) -> Desired:
    """What the merchant's setup looks like once the template is applied with `params`."""
    desired = Desired()
    for program in manifest["programs"]:
        rule = dict(STAMPS_DEFAULTS if program["kind"] == "stamps" else RULE_DEFAULTS)
        for name, value in program["rule"].items():
            value = params[value["param"]] if isinstance(value, dict) else value
            rule[name] = _as_field(name, value)
        desired.programs[program["code"]] = {"name": program["name"], **rule}
        if program.get("default"):
            desired.default_program = program["code"]
    for mapping in manifest.get("mappings", []):
        pattern = _PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))),
                                   mapping["pattern"])
        pattern = DEFAULT_KEY if pattern.lower() == DEFAULT_KEY else pattern
        desired.mappings[pattern] = mapping["program"]
    for text in manifest.get("sms", []):
        desired.sms[(text["program"], text["event"], text["language"])] = text["text"]
    return desired


def with_mappings(mapping: dict[str, str], patterns: dict[str, str]) -> dict[str, str]:
    """A channel's account rules with a template's patterns in place: a pattern replaces
    the rule it matches ignoring case (crediting folds case, so `vip*` and `VIP*` would be
    one rule twice); the channel's other rules stay."""
    merged = dict(mapping)
    for pattern, code in patterns.items():
        for existing in [k for k in merged if k.upper() == pattern.upper()]:
            del merged[existing]
        merged[pattern] = code
    return merged


def _as_field(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in DECIMAL_FIELDS:
        return Decimal(str(value))
    if name in INT_FIELDS:
        return int(value)
    return str(value)


def plan(desired: Desired, current: Current, owned: set[str]) -> list[dict[str, Any]]:
    """Per resource: {kind, key, action, changes}, and `value` on an `unchanged` one (its
    changes are empty, yet a reader still needs to know what it is: "VIP* earns in vip");
    `owned` holds the natural keys earlier applies of this template made or adopted
    (`program:vip`, `mapping:VIP*`, `sms:vip/earn/sw`)."""
    resources = []
    owned = set(owned)
    starting = current.programs.get(DEFAULT_PROGRAM_CODE)
    if starting is not None and all(starting.get(k) == v for k, v in STARTING_PROGRAM.items()):
        owned.add(f"program:{DEFAULT_PROGRAM_CODE}")
    if (current.mappings or {}).get(DEFAULT_KEY) == DEFAULT_PROGRAM_CODE:
        owned.add(f"mapping:{DEFAULT_KEY}")
    for code, wanted in desired.programs.items():
        have = current.programs.get(code)
        wanted = dict(wanted)
        if desired.default_program == code:
            wanted["is_default"] = True
        resources.append(_compare("program", code, wanted, have, owned))
    if current.mappings is not None:
        folded = {k.upper(): k for k in current.mappings}
        for pattern, code in desired.mappings.items():
            existing = folded.get(pattern.upper())
            have = {"program": current.mappings[existing]} if existing else None
            resources.append(_compare("mapping", pattern, {"program": code}, have, owned))
    for natural, text in desired.sms.items():
        have_text = current.sms.get(natural)
        have = {"text": have_text} if have_text is not None else None
        resources.append(_compare("sms", "/".join(natural), {"text": text}, have, owned))
    return resources


def _compare(kind: str, key: str, wanted: dict[str, Any], have: dict[str, Any] | None,
             owned: set[str]) -> dict[str, Any]:
    if have is None:
        return {"kind": kind, "key": key, "action": "create",
                "changes": {name: {"from": None, "to": plain(v)} for name, v in wanted.items()}}
    changes = {name: {"from": plain(have.get(name)), "to": plain(value)}
               for name, value in wanted.items() if have.get(name) != value}
    if not changes:
        return {"kind": kind, "key": key, "action": "unchanged", "changes": changes,
                "value": {name: plain(value) for name, value in wanted.items()}}
    action = "update" if f"{kind}:{key}" in owned else "conflict"
    return {"kind": kind, "key": key, "action": action, "changes": changes}


def plain(value: Any) -> Any:
    """JSON-friendly: money and multipliers as decimal strings."""
    return str(value) if isinstance(value, Decimal) else value
