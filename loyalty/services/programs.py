"""Loyalty programs: the rules that turn a payment into points or stamps."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from loyalty.errors import Conflict, NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import LoyaltyProgram, MpesaChannel
from loyalty.services import sms_allowance
from loyalty.services.pages import keyset_page
from loyalty.sms.templates import TemplateError, validate_template
from loyalty.unit_of_work import transactional


def list_programs() -> list[LoyaltyProgram]:
    return list(db.session.scalars(sa.select(LoyaltyProgram).order_by(LoyaltyProgram.id)))


def program_page(*, limit: int = 50, cursor: int | None = None) -> dict[str, Any]:
    """The API's list: oldest first, {"items", "next_cursor"} (services/pages.py)."""
    return keyset_page(sa.select(LoyaltyProgram), LoyaltyProgram.id, limit=limit, cursor=cursor,
                       newest_first=False)


def get_program(code: str) -> LoyaltyProgram:
    """A program of the current merchant by code; NotFound otherwise."""
    program = db.session.scalar(sa.select(LoyaltyProgram).where(LoyaltyProgram.code == code))
    if program is None:
        raise NotFound(f"No loyalty program with code '{code}'.")
    return program


def default_program() -> LoyaltyProgram | None:
    return db.session.scalar(sa.select(LoyaltyProgram).where(LoyaltyProgram.is_default.is_(True)))


@transactional
def create_program(data: dict[str, Any]) -> LoyaltyProgram:
    """Add a program; Conflict when the code exists, ValidationFailed for a bad template."""
    data = dict(data)
    _check_template(data.get("sms_template"))
    _check_template(data.get("reward_template"), "reward_template")
    _check_links(data)
    if db.session.scalar(sa.select(sa.exists().where(LoyaltyProgram.code == data["code"]))):
        raise Conflict(f"A program with code '{data['code']}' already exists.", code="code_taken")
    make_default = data.pop("is_default", False)
    program = LoyaltyProgram(**data)
    if make_default:
        _unset_default()
        program.is_default = True
    db.session.add(program)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent request created the same code
        raise Conflict(f"A program with code '{data['code']}' already exists.",
                       code="code_taken") from None
    return program


@transactional
def update_program(code: str, changes: dict[str, Any]) -> LoyaltyProgram:
    program = get_program(code)
    changes = dict(changes)
    if "sms_template" in changes:
        _check_template(changes["sms_template"])
    if "reward_template" in changes:
        _check_template(changes["reward_template"], "reward_template")
    _check_links(changes)
    make_default = changes.pop("is_default", None)
    for name, value in changes.items():
        setattr(program, name, value)
    if program.stamps_required and not program.stamp_reward:
        raise ValidationFailed("A stamp card needs a reward.",
                               fields={"stamp_reward": ["Say what the customer gets."]})
    if make_default and not program.is_default:
        _unset_default()
        program.is_default = True
    elif make_default is False and program.is_default:
        raise Conflict("Make another program the default instead.", code="default_required")
    db.session.flush()
    return program


@transactional
def delete_program(code: str) -> None:
    """Delete a program nobody earns in yet; one that is mapped or has history is kept."""
    program = get_program(code)
    if program.is_default:
        raise Conflict("The default program cannot be deleted; make another one the default.",
                       code="default_required")
    mapped = [c.name for c in db.session.scalars(sa.select(MpesaChannel).where(
        MpesaChannel.archived_at.is_(None))) if code in (c.account_mapping or {}).values()]
    if mapped:
        raise Conflict(f"Channels still map payments to '{code}': {', '.join(mapped)}.",
                       code="program_in_use")
    try:
        with db.session.begin_nested():
            db.session.delete(program)
            db.session.flush()
    except IntegrityError:
        raise Conflict(f"'{code}' already has points or payments; it cannot be deleted.",
                       code="program_in_use") from None


def _check_template(template: str | None, field: str = "sms_template") -> None:
    if template is None:
        return
    try:
        validate_template(template)
    except TemplateError as exc:
        raise ValidationFailed("The SMS template cannot be used.",
                               fields={field: list(exc.problems)}) from None


# What a program puts into its receipts: the templates, and {program_name} and {reward}.
TEXT_FIELDS = ("sms_template", "reward_template", "name", "stamp_reward")


def _check_links(data: dict[str, Any]) -> None:
    """A link in a text is for merchants with an active production channel (no SMS relay,
    sms_allowance.py); sending checks the text itself again."""
    refused = {name: [why] for name in TEXT_FIELDS
               if data.get(name) and (why := sms_allowance.link_refused(data[name]))}
    if refused:
        raise ValidationFailed("Links in texts need an active production channel: "
                               + ", ".join(refused) + ".", fields=refused)


def _unset_default() -> None:
    for other in db.session.scalars(sa.select(LoyaltyProgram).where(
            LoyaltyProgram.is_default.is_(True))):
        other.is_default = False
    db.session.flush()
