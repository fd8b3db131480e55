"""Loyalty programs, referenced by code."""

from flask_smorest import Blueprint

from loyalty.schemas.base import PageArgsSchema
from loyalty.schemas.programs import (
    ProgramCreateSchema,
    ProgramPageSchema,
    ProgramSchema,
    ProgramUpdateSchema,
)
from loyalty.services import programs as service

blp = Blueprint("programs", __name__, url_prefix="/api/v1/programs",
                description="Points and stamp-card programs")


@blp.route("", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ProgramPageSchema)
def list_programs(args):
    return service.program_page(**args)


@blp.route("", methods=["POST"])
@blp.arguments(ProgramCreateSchema)
@blp.response(201, ProgramSchema)
def create(data):
    """Add a program; `sms_template` may use {first_name} {points} {balance} {program_name}
    {stamps_left} {reward} {merchant} only."""
    return service.create_program(data)


@blp.route("/<code>", methods=["GET"])
@blp.response(200, ProgramSchema)
def get(code):
    return service.get_program(code)


@blp.route("/<code>", methods=["PATCH"])
@blp.arguments(ProgramUpdateSchema(partial=True))
@blp.response(200, ProgramSchema)
def update(changes, code):
    return service.update_program(code, changes)


@blp.route("/<code>", methods=["DELETE"])
@blp.response(204)
def delete(code):
    service.delete_program(code)
