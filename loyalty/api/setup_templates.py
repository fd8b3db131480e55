"""Setup templates: list, plan, apply (idempotent, all or nothing), and the merchant's own
setup exported as a manifest."""

from flask_smorest import Blueprint

from loyalty.api.openapi import conflict
from loyalty.schemas.base import PageArgsSchema
from loyalty.schemas.setup_templates import (
    ApplyRequestSchema,
    ApplyResultSchema,
    ManifestSchema,
    PlanRequestSchema,
    TemplateDetailSchema,
    TemplatePageSchema,
    TemplatePlanSchema,
)
from loyalty.services import setup_templates as service

blp = Blueprint("setup_templates", __name__, url_prefix="/api/v1",
                description="Setup templates: programs, account rules and texts in one step")

PLAN_EXAMPLE = {"version": 1, "params": {"vip_multiplier": "3"}}
APPLY_EXAMPLE = {**PLAN_EXAMPLE, "idempotency_key": "setup-2026-12-03-1"}


@blp.route("/setup-templates", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, TemplatePageSchema)
def list_templates(args):
    """List the setup templates.

    The latest version of each, by title, with its key, vertical, description and the
    kinds of channel it fits."""
    return service.list_templates(**args)


@blp.route("/setup-templates/<key>", methods=["GET"])
@blp.response(200, TemplateDetailSchema)
def get_template(key):
    """Show a setup template.

    `latest` is the latest version's manifest (parameters with their defaults and bounds,
    programs, account rules, texts in English and Swahili); `versions` lists every
    published version, each of which stays as it was published."""
    return service.template_detail(key)


@blp.route("/setup-templates/<key>/plan", methods=["POST"])
@blp.arguments(PlanRequestSchema, example=PLAN_EXAMPLE)
@blp.response(200, TemplatePlanSchema)
def plan(data, key):
    """Show what applying a template would change.

    Per resource by natural key (program code, mapping pattern, program/event/language of
    a text): `create`, `update` (made by an earlier apply of this template), `unchanged`,
    or `conflict` (made by hand: applying needs `adopt`), with each change's `from` and
    `to`. Nothing is changed. A parameter out of bounds is a 422 naming it.

    `backtest`: when the merchant has credited payments in the last 90 days, per program
    the plan creates or changes, what the template's rule would have earned over them
    (an existing program: its own payments; a new one: those its account rules would
    route to it on the plan's channel); null otherwise."""
    return service.plan_template(key, data["version"], data["params"], data.get("channel_id"))


@blp.route("/setup-templates/<key>/apply", methods=["POST"])
@blp.arguments(ApplyRequestSchema, example=APPLY_EXAMPLE)
@blp.response(200, ApplyResultSchema)
@conflict("`setup_conflict`: resources made by hand would change (send `adopt: true`); "
          "`idempotency_key_reused`: the key was used for another request.")
def apply(data, key):
    """Apply a template.

    All or nothing, in one transaction. The same `idempotency_key` with the same request
    answers the first result again (`replayed: true`); with another request it is a
    409."""
    return service.apply_template(key, data["version"], data["params"],
                                  idempotency_key=data["idempotency_key"],
                                  channel_id=data.get("channel_id"), adopt=data["adopt"])


@blp.route("/merchants/me/setup", methods=["GET"])
@blp.response(200, ManifestSchema)
def export_setup():
    """Export the merchant's own setup.

    A manifest in the templates' own format: every program with its rule and texts, and
    the primary channel's account rules. Applied to another account it makes the same
    setup."""
    return service.export_setup()
