"""A channel added after a template was applied without one gets that template's account
rules (issue 17).

The natural order for a new shop is sign up → "Start from a template" → apply → add the
PayBill. The apply then has no channel to set rules on, and nobody applies a template a
second time just for its rules, so the channel is created with them instead: in the same
unit of work as the channel, from what the apply recorded (template, version, parameters)
and through planning's own mapping code, so the rules are exactly the ones an apply with
the channel would have set.

Never over the merchant's own work: a channel created with rules of its own (beyond the
`default` → `loyalty` every channel starts with) keeps exactly those. A pattern whose
program the merchant has deleted since is left out rather than refusing the channel.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from loyalty.extensions import db
from loyalty.models import ChannelType, LoyaltyProgram, MpesaChannel, SetupApply
from loyalty.services import channels
from loyalty.services.account_mapping import DEFAULT_KEY
from loyalty.services.setup_templates import catalog, planning
from loyalty.unit_of_work import transactional


@transactional
def create_channel(data: dict[str, Any], *, via: str | None = None) -> MpesaChannel:
    """channels.create_channel, with the account rules of the templates waiting for a
    channel of this kind. The channel's `template_rules` lists those templates' keys (empty
    when none applied), and so does its `created` event."""
    data = dict(data)
    waiting: list[tuple[SetupApply, dict[str, str]]] = []
    given = data.get("account_mapping") or {}
    if data.get("channel_type") and _no_rules_of_its_own(given):
        waiting = _waiting_rules(ChannelType(data["channel_type"]).value)
        for _, patterns in waiting:
            given = planning.with_mappings(given, patterns)
        if waiting:
            data["account_mapping"] = given
    keys = [apply.template_key for apply, _ in waiting]
    channel = channels.create_channel(data, via=via, **({"templates": keys} if keys else {}))
    for apply, patterns in waiting:
        _own(apply, patterns, channel.account_mapping)
    channel.template_rules = keys  # for the page that says where the rules came from
    return channel


def _no_rules_of_its_own(mapping: dict[str, str]) -> bool:
    # What every channel starts with is nobody's handiwork (planning treats it the same).
    starting = {DEFAULT_KEY: planning.DEFAULT_PROGRAM_CODE}
    return not mapping or {k.strip().lower(): v for k, v in mapping.items()} == starting


def _waiting_rules(channel_type: str) -> list[tuple[SetupApply, dict[str, str]]]:
    """Each template whose latest apply had no channel and which fits this kind of
    channel, with the patterns it sets, in the order they were applied (a later one wins a
    shared pattern, as applying it later with the channel would have)."""
    latest: dict[str, SetupApply] = {}
    for apply in db.session.scalars(sa.select(SetupApply).order_by(SetupApply.id)):
        latest[apply.template_key] = apply
    programs = set(db.session.scalars(sa.select(LoyaltyProgram.code)))
    waiting = []
    for apply in latest.values():
        if (apply.result or {}).get("channel_id") is not None:
            continue
        manifest = catalog.manifest(apply.template_key, apply.version)
        if channel_type not in manifest["channel_types"]:
            continue
        params = planning.resolve_params(manifest, apply.result.get("params") or {})
        patterns = {pattern: code for pattern, code
                    in planning.desired_state(manifest, params).mappings.items()
                    if code in programs}
        if patterns:
            waiting.append((apply, patterns))
    return sorted(waiting, key=lambda pair: pair[0].id)


def _own(apply: SetupApply, patterns: dict[str, str], mapping: dict[str, str]) -> None:
    """The rules this template set are now its own, as if it had been applied with the
    channel: a later apply of it updates them instead of calling them the merchant's."""
    owned = list(apply.resources or [])
    apply.resources = owned + [f"mapping:{pattern}" for pattern, code in patterns.items()
                               if mapping.get(pattern) == code
                               and f"mapping:{pattern}" not in owned]
