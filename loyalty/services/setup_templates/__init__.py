"""Setup templates ("integration templates"): a merchant's programs, account rules and texts
from a versioned manifest in the repository.

- catalog.py: the shipped files, checked by schemas/setup_templates.ManifestSchema;
- planning.py: pure; parameters, the desired setup and the plan per resource;
- state.py: the merchant's setup read and written through the program and channel services;
- history.py: the plan's back-test over the merchant's last 90 days of payments.

`apply_template` is one unit of work: every resource is written or none is. Its idempotency
key is kept with the request's hash and the first result (models/setup_templates.py): the
same key and request replay that result, the same key with another request is a 409.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from loyalty.errors import Conflict
from loyalty.extensions import db
from loyalty.models import SetupApply
from loyalty.models.base import utcnow
from loyalty.services.merchants import get_current_merchant
from loyalty.services.setup_templates import catalog, history, planning, state
from loyalty.services.setup_templates.planning import RULE_DEFAULTS
from loyalty.unit_of_work import transactional

EXPORT_KEY = "my-setup"


def list_templates(*, limit: int = 50, cursor: int | None = None) -> dict[str, Any]:
    """A page of the templates by title; the cursor is the position of the next one."""
    start = cursor or 0
    items = catalog.summaries()
    following = start + limit
    return {"items": items[start:following],
            "next_cursor": following if following < len(items) else None}


def template_detail(key: str) -> dict[str, Any]:
    return catalog.detail(key)


def plan_template(key: str, version: int, params: dict[str, Any],
                  channel_id: int | None = None) -> dict[str, Any]:
    """What applying would do, per resource, and with a back-test of the programs it
    would create or change over the last 90 days (history.py; None without payments in
    them); changes nothing."""
    plan, desired, current, channel = _plan(catalog.manifest(key, version), params, channel_id)
    plan["backtest"] = history.plan_backtest(desired, current, plan["resources"], channel)
    return plan


def plan_manifest(manifest: dict[str, Any], params: dict[str, Any],
                  channel_id: int | None = None) -> dict[str, Any]:
    """The plan without its back-test (apply needs only the resources)."""
    return _plan(manifest, params, channel_id)[0]


def _plan(manifest: dict[str, Any], params: dict[str, Any], channel_id: int | None):
    values = planning.resolve_params(manifest, params)
    channel = state.target_channel(channel_id, manifest["channel_types"])
    desired = planning.desired_state(manifest, values)
    current = state.current_state(channel)
    resources = planning.plan(desired, current, _owned(manifest["key"]))
    notes = []
    if channel is None and desired.mappings:
        # new_channels.py sets them when the channel is added: no second apply needed.
        notes.append("No channel of a kind this template fits yet: its account rules are "
                     "set when you add one, unless you give it rules of your own.")
    plan = {"template": manifest["key"], "version": manifest["version"],
            "params": {k: planning.plain(v) for k, v in values.items()},
            "channel_id": channel.id if channel is not None else None,
            "resources": resources, "notes": notes}
    return plan, desired, current, channel


@transactional
def apply_template(key: str, version: int, params: dict[str, Any], *, idempotency_key: str,
                   channel_id: int | None = None, adopt: bool = False) -> dict[str, Any]:
    """Apply all or nothing. Conflict (`setup_conflict`) when the merchant's own resources
    would be overwritten and `adopt` is not set; (`idempotency_key_reused`) when the key was
    used for another request."""
    manifest = catalog.manifest(key, version)
    request_hash = _request_hash(manifest, params, channel_id, adopt)
    earlier = db.session.scalar(sa.select(SetupApply).where(
        SetupApply.idempotency_key == idempotency_key))
    if earlier is not None:
        return _replay(earlier, request_hash)
    result = apply_manifest(manifest, params, channel_id=channel_id, adopt=adopt)
    result.update(idempotency_key=idempotency_key, replayed=False)
    record = SetupApply(idempotency_key=idempotency_key, template_key=key, version=version,
                        request_hash=request_hash, result=result,
                        resources=result.pop("_owned"))
    try:
        with db.session.begin_nested():
            db.session.add(record)
            db.session.flush()
    except IntegrityError:  # the same key, applied by a concurrent request
        raise Conflict("This idempotency key is being used by another apply; send it again "
                       "to see that apply's result.", code="idempotency_key_reused") from None
    return result


@transactional
def apply_manifest(manifest: dict[str, Any], params: dict[str, Any], *,
                   channel_id: int | None = None, adopt: bool = False) -> dict[str, Any]:
    """Apply a checked manifest without an idempotency record (the demo seed; an exported
    setup copied to another merchant)."""
    plan = plan_manifest(manifest, params, channel_id)
    conflicts = [r for r in plan["resources"] if r["action"] == "conflict"]
    if conflicts and not adopt:
        raise Conflict("These were set up by hand and the template would change them: "
                       + ", ".join(f"{r['kind']} {r['key']}" for r in conflicts)
                       + ". Apply with adopt to let the template take them over.",
                       code="setup_conflict")
    channel = state.target_channel(plan["channel_id"], manifest["channel_types"])
    desired = planning.desired_state(manifest, planning.resolve_params(manifest, params))
    state.write(desired, plan["resources"], channel)
    owned = [f"{r['kind']}:{r['key']}" for r in plan["resources"]]
    return {**plan, "adopted": bool(conflicts), "applied_at": utcnow().isoformat(),
            "_owned": owned}


def _replay(earlier: SetupApply, request_hash: str) -> dict[str, Any]:
    if earlier.request_hash != request_hash:
        raise Conflict("This idempotency key was used for another apply (another template, "
                       "version, parameters or channel). Use a new key.",
                       code="idempotency_key_reused")
    return {**earlier.result, "replayed": True}


def _request_hash(manifest: dict[str, Any], params: dict[str, Any], channel_id: int | None,
                  adopt: bool) -> str:
    values = planning.resolve_params(manifest, params)
    canonical = json.dumps({"key": manifest["key"], "version": manifest["version"],
                            "params": {k: str(v) for k, v in values.items()},
                            "channel_id": channel_id, "adopt": adopt}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _owned(template_key: str) -> set[str]:
    owned: set[str] = set()
    for resources in db.session.scalars(sa.select(SetupApply.resources).where(
            SetupApply.template_key == template_key)):
        owned.update(resources or [])
    return owned


def export_setup() -> dict[str, Any]:
    """The merchant's own setup as a manifest (ManifestSchema), which applied to a fresh
    merchant makes the same programs, texts and primary channel's account rules."""
    merchant = get_current_merchant()
    channel = state.target_channel(None, ["paybill", "till", "buygoods"])
    current = state.current_state(channel)
    exported_programs = []
    for code, have in current.programs.items():
        stamps = have["stamps_required"] is not None
        defaults = planning.STAMPS_DEFAULTS if stamps else RULE_DEFAULTS
        rule = {name: _literal(value) for name, value in have.items()
                if name in RULE_DEFAULTS and value != defaults[name]}
        exported_programs.append({"code": code, "name": have["name"],
                                  "kind": "stamps" if stamps else "points",
                                  "default": have["is_default"], "rule": rule})
    mappings = [{"pattern": pattern, "program": code}
                for pattern, code in (current.mappings or {}).items()]
    texts = [{"program": code, "event": event, "language": language, "text": text}
             for (code, event, language), text in sorted(current.sms.items())]
    return {"key": EXPORT_KEY, "version": 1, "title": merchant.business_name[:80],
            "vertical": merchant.business_type.value.lower(),
            "description": f"The setup of {merchant.business_name}"[:500],
            "instructions": "Exported from M-Pesa Loyalty: apply it to another account to "
                            "copy these programs, texts and account rules.",
            "channel_types": [channel.channel_type.value] if channel is not None
            else ["paybill", "till", "buygoods"],
            "parameters": [], "programs": exported_programs, "mappings": mappings,
            "sms": texts}


def _literal(value: Any) -> Any:
    return format(value.normalize(), "f") if isinstance(value, Decimal) else value
