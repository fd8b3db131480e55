"""Loyalty programs, referenced by code."""

from flask_smorest import Blueprint

from loyalty.api.openapi import conflict
from loyalty.schemas.backtest import BacktestArgsSchema, BacktestSchema
from loyalty.schemas.base import PageArgsSchema
from loyalty.schemas.programs import (
    ProgramCreateSchema,
    ProgramPageSchema,
    ProgramSchema,
    ProgramUpdateSchema,
)
from loyalty.services import backtest as backtests
from loyalty.services import programs as service

blp = Blueprint("programs", __name__, url_prefix="/api/v1/programs",
                description="Points and stamp-card programs")

VIP_EXAMPLE = {"code": "vip", "name": "VIP customers", "points_per_unit": 1,
               "unit_amount": "100.00", "multiplier": "2"}


@blp.route("", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ProgramPageSchema)
def list_programs(args):
    """List the merchant's loyalty programs.

    Oldest first; every merchant starts with the default program `loyalty` (1 point per
    KES 100)."""
    return service.program_page(**args)


@blp.route("", methods=["POST"])
@blp.arguments(ProgramCreateSchema, example=VIP_EXAMPLE)
@blp.response(201, ProgramSchema)
@conflict("`code_taken`: the merchant has a program with this code already.")
def create(data):
    """Add a loyalty program.

    Points = floor(amount × points_per_unit × multiplier / unit_amount), none below
    `min_amount`; a stamp card (`stamps_required` and `stamp_reward`) adds one stamp per
    qualifying payment. `sms_template` may use {first_name} {points} {balance}
    {program_name} {stamps_left} {reward} {merchant} only."""
    return service.create_program(data)


@blp.route("/<code>", methods=["GET"])
@blp.response(200, ProgramSchema)
def get(code):
    """Show one program.

    Programs are named by their `code` (lower-case letters, digits, `-` and `_`)."""
    return service.get_program(code)


@blp.route("/<code>", methods=["PATCH"])
@blp.arguments(ProgramUpdateSchema(partial=True))
@blp.response(200, ProgramSchema)
@conflict("`default_required`: the default program cannot stop being the default; make "
          "another one the default instead.")
def update(changes, code):
    """Change a program.

    Only the fields sent change; the new rules apply to payments credited from now on."""
    return service.update_program(code, changes)


@blp.route("/<code>", methods=["DELETE"])
@blp.response(204)
@conflict("`default_required` (the default program) or `program_in_use` (a channel maps to "
          "it, or it has points or payments).")
def delete(code):
    """Delete a program.

    Only a program nothing refers to: not the default, not mapped by a channel, without
    points or payments."""
    service.delete_program(code)


@blp.route("/<code>/backtest", methods=["POST"])
@blp.arguments(BacktestArgsSchema, example={"rule": {"multiplier": "1.5"}, "from": "2026-11-01",
                                            "to": "2026-12-01"})
@blp.response(200, BacktestSchema)
def backtest(args, code):
    """Back-test a rule over the program's past payments.

    Re-earns the program's credited payments of [`from`, `to`) (default: the last 30 days;
    at most 366) under `rule` — any of points_per_unit, unit_amount, multiplier, min_amount,
    stamps_required in place of the program's — and compares with what they earned:
    payments, customers, points, stamps and rewards actual vs under the rule, the
    per-customer difference (p50, p90) and how many receipt texts would read differently.
    Changes nothing. A bare date is 00:00 in Nairobi; a time without an offset is UTC."""
    return backtests.backtest_program(code, args)
