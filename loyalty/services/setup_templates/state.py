"""The merchant's setup as templates see it, read and written through the program and
channel services (so every check those make holds for a template too)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from loyalty.errors import ValidationFailed
from loyalty.extensions import db
from loyalty.models import LoyaltyProgram, MpesaChannel
from loyalty.services import channels, programs
from loyalty.services.setup_templates.planning import (
    RULE_DEFAULTS,
    Current,
    Desired,
    with_mappings,
)

# Where each English text lives on a program; other languages are in sms_translations.
EN_COLUMNS = {"earn": "sms_template", "reward": "reward_template"}


def target_channel(channel_id: int | None, channel_types: list[str]) -> MpesaChannel | None:
    """The channel whose account rules the template sets: the one named, else the primary
    one (None when the merchant has no channel yet)."""
    if channel_id is None:
        channel = db.session.scalar(sa.select(MpesaChannel).where(
            MpesaChannel.is_primary.is_(True), MpesaChannel.archived_at.is_(None)))
        if channel is None or channel.channel_type.value not in channel_types:
            return None
        return channel
    channel = channels.get_channel(channel_id)
    if channel.channel_type.value not in channel_types:
        raise ValidationFailed("This template is not for this kind of channel.", fields={
            "channel_id": [f"A {channel.channel_type.value} channel; this template fits "
                           + ", ".join(channel_types) + "."]})
    return channel


def current_state(channel: MpesaChannel | None) -> Current:
    found: dict[str, dict[str, Any]] = {}
    sms: dict[tuple[str, str, str], str] = {}
    default = None
    for program in programs.list_programs():
        found[program.code] = {"name": program.name, "is_default": program.is_default,
                               **{name: getattr(program, name) for name in RULE_DEFAULTS}}
        if program.is_default:
            default = program.code
        for event, column in EN_COLUMNS.items():
            if getattr(program, column) is not None:
                sms[(program.code, event, "en")] = getattr(program, column)
        for language, texts in (program.sms_translations or {}).items():
            for event, text in texts.items():
                sms[(program.code, event, language)] = text
    mappings = dict(channel.account_mapping or {}) if channel is not None else None
    return Current(programs=found, default_program=default, mappings=mappings, sms=sms)


def write(desired: Desired, resources: list[dict[str, Any]],
          channel: MpesaChannel | None) -> None:
    """Make every resource that is not `unchanged` what the template wants: programs first
    (mappings name them), then texts, then the channel's account rules."""
    acting = {(r["kind"], r["key"]) for r in resources if r["action"] != "unchanged"}
    for code, wanted in desired.programs.items():
        if ("program", code) not in acting:
            continue
        data = dict(wanted)
        if desired.default_program == code:
            data["is_default"] = True
        if db.session.scalar(sa.select(sa.exists().where(LoyaltyProgram.code == code))):
            programs.update_program(code, data)
        else:
            programs.create_program({"code": code, **data})
    translations: dict[str, dict[str, dict[str, str]]] = {}
    for (code, event, language), text in desired.sms.items():
        if ("sms", f"{code}/{event}/{language}") not in acting:
            continue
        if language == "en":
            programs.update_program(code, {EN_COLUMNS[event]: text})
        else:
            translations.setdefault(code, {}).setdefault(language, {})[event] = text
    for code, languages in translations.items():
        program = programs.get_program(code)
        merged = {lang: dict(texts) for lang, texts in (program.sms_translations or {}).items()}
        for language, texts in languages.items():
            merged.setdefault(language, {}).update(texts)
        program.sms_translations = merged
    if channel is not None and any(kind == "mapping" for kind, _ in acting):
        mapping = with_mappings(channel.account_mapping or {}, desired.mappings)
        channels.update_channel(channel.id, {"account_mapping": mapping})
    db.session.flush()
