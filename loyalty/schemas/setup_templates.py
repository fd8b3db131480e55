"""Setup templates: the manifest a template file holds, and the API's shapes around it.

A manifest (loyalty/setup_templates/<key>/<version>.json) is checked by ManifestSchema when
the catalog loads it and again by the export test, so a shipped file and an exported setup
are held to the same rules. Values in a program's rule may be `{"param": "name"}`, filled in
from the template's typed parameters when it is planned or applied.
"""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from loyalty.schemas.backtest import BacktestSchema
from loyalty.schemas.base import BaseSchema, TrimmedString, page_schema
from loyalty.schemas.programs import CODE
from loyalty.sms.templates import TemplateError, validate_template

KEY = validate.Regexp(r"^[a-z0-9][a-z0-9-]{1,39}$",
                      error="Use 2-40 lower-case letters, digits or '-'.")
PARAM_NAME = validate.Regexp(r"^[a-z][a-z0-9_]{0,29}$",
                             error="Use 1-30 lower-case letters, digits or '_'.")
CHANNEL_TYPES = ("paybill", "till", "buygoods")
PARAM_TYPES = ("int", "decimal", "string", "choice")
KINDS = ("points", "stamps")
EVENTS = ("earn", "reward")  # the receipt, and the text when a stamp card completes
LANGUAGES = ("en", "sw")
# Rule fields a template may set, and where a parameter may stand in for a value.
RULE_FIELDS = ("points_per_unit", "unit_amount", "multiplier", "min_amount",
               "stamps_required", "stamp_reward", "points_expiry_days")


class ParamRef(fields.Field):
    """A literal (number or text) or `{"param": "name"}`."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict):
            if set(value) != {"param"} or not isinstance(value["param"], str):
                raise ValidationError('Use a value or {"param": "<parameter name>"}.')
            return {"param": value["param"]}
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValidationError("Use a whole number, a decimal string or text.")
        if isinstance(value, str) and not 0 < len(value) <= 100:
            raise ValidationError("At most 100 characters.")
        return value


class TemplateParameterSchema(BaseSchema):
    name = fields.String(required=True, validate=PARAM_NAME)
    type = fields.String(required=True, validate=validate.OneOf(PARAM_TYPES))
    label = TrimmedString(required=True, validate=validate.Length(1, 80))
    help = TrimmedString(validate=validate.Length(1, 200))
    default = fields.Raw(required=True)
    min = fields.Raw()
    max = fields.Raw()
    max_length = fields.Integer(validate=validate.Range(1, 100))
    choices = fields.List(fields.String(validate=validate.Length(1, 40)),
                          validate=validate.Length(1, 20))

    @validates_schema
    def _typed(self, data, **kwargs):
        kind = data.get("type")
        if kind == "choice" and not data.get("choices"):
            raise ValidationError("A choice lists its choices.", "choices")
        if kind != "choice" and "choices" in data:
            raise ValidationError("Only a choice has choices.", "choices")
        if kind in ("string", "choice") and ("min" in data or "max" in data):
            raise ValidationError("Text has max_length, not min or max.", "min")


class TemplateProgramSchema(BaseSchema):
    code = fields.String(required=True, validate=CODE)
    name = TrimmedString(required=True, validate=validate.Length(1, 100))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    default = fields.Boolean(load_default=False, metadata={
        "description": "make it the merchant's default program (payments no rule matches)"})
    rule = fields.Dict(keys=fields.String(validate=validate.OneOf(RULE_FIELDS)),
                       values=ParamRef(), load_default=dict)


class TemplateMappingSchema(BaseSchema):
    pattern = fields.String(required=True, validate=validate.Length(1, 21), metadata={
        "description": "`default`, an exact account reference or a prefix ending in `*`; "
                       "`{name}` inserts a text parameter"})
    program = fields.String(required=True, validate=CODE)


class TemplateSmsTextSchema(BaseSchema):
    program = fields.String(required=True, validate=CODE)
    event = fields.String(required=True, validate=validate.OneOf(EVENTS))
    language = fields.String(required=True, validate=validate.OneOf(LANGUAGES))
    text = fields.String(required=True, validate=validate.Length(1, 480))

    @validates_schema
    def _placeholders(self, data, **kwargs):
        try:
            validate_template(data.get("text") or "")
        except TemplateError as exc:
            raise ValidationError(list(exc.problems), "text") from None


class ManifestSchema(BaseSchema):
    key = fields.String(required=True, validate=KEY)
    version = fields.Integer(required=True, validate=validate.Range(1, 10_000))
    title = TrimmedString(required=True, validate=validate.Length(1, 80))
    vertical = TrimmedString(required=True, validate=validate.Length(1, 40))
    description = TrimmedString(required=True, validate=validate.Length(1, 500))
    instructions = TrimmedString(required=True, validate=validate.Length(1, 2000))
    channel_types = fields.List(fields.String(validate=validate.OneOf(CHANNEL_TYPES)),
                                required=True, validate=validate.Length(1, 3))
    parameters = fields.List(fields.Nested(TemplateParameterSchema), load_default=list)
    programs = fields.List(fields.Nested(TemplateProgramSchema), required=True,
                           validate=validate.Length(1, 100))
    mappings = fields.List(fields.Nested(TemplateMappingSchema), load_default=list)
    sms = fields.List(fields.Nested(TemplateSmsTextSchema), load_default=list)

    @validates_schema
    def _consistent(self, data, **kwargs):
        """References resolve, natural keys are unique, and Till rules hold."""
        params = {p["name"]: p for p in data.get("parameters", [])}
        if len(params) != len(data.get("parameters", [])):
            raise ValidationError("Parameter names repeat.", "parameters")
        programs = data.get("programs", [])
        codes = {p["code"] for p in programs}
        if len(codes) != len(programs):
            raise ValidationError("Program codes repeat.", "programs")
        if sum(p["default"] for p in programs) > 1:
            raise ValidationError("At most one program is the default.", "programs")
        for program in programs:
            for name, value in program["rule"].items():
                if isinstance(value, dict) and value["param"] not in params:
                    raise ValidationError(f"{program['code']}.{name}: no parameter "
                                          f"'{value['param']}'.", "programs")
            if program["kind"] == "stamps" and not (
                    "stamps_required" in program["rule"] and "stamp_reward" in program["rule"]):
                raise ValidationError(f"{program['code']}: a stamp card needs stamps_required "
                                      "and stamp_reward.", "programs")
            if program["kind"] == "points" and "stamps_required" in program["rule"]:
                raise ValidationError(f"{program['code']}: a points program has no stamps.",
                                      "programs")
        patterns = [m["pattern"].upper() for m in data.get("mappings", [])]
        if len(set(patterns)) != len(patterns):
            raise ValidationError("Mapping patterns repeat (matching ignores case).", "mappings")
        no_reference = set(data.get("channel_types", [])) - {"paybill"}
        for mapping in data.get("mappings", []):
            if mapping["program"] not in codes:
                raise ValidationError(f"{mapping['pattern']}: no program "
                                      f"'{mapping['program']}' in this template.", "mappings")
            if no_reference and mapping["pattern"].lower() != "default":
                raise ValidationError("Till and Buy Goods payments carry no account "
                                      "reference: only 'default' can be mapped.", "mappings")
        seen = set()
        for text in data.get("sms", []):
            natural = (text["program"], text["event"], text["language"])
            if natural in seen:
                raise ValidationError(f"{'/'.join(natural)} repeats.", "sms")
            seen.add(natural)
            if text["program"] not in codes:
                raise ValidationError(f"No program '{text['program']}' in this template.", "sms")


# --- the API's shapes -----------------------------------------------------------------------


class TemplateSummarySchema(BaseSchema):
    key = fields.String()
    version = fields.Integer(metadata={"description": "the latest version"})
    title = fields.String()
    vertical = fields.String()
    description = fields.String()
    channel_types = fields.List(fields.String())


TemplatePageSchema = page_schema(TemplateSummarySchema, "SetupTemplatePageSchema")


class TemplateDetailSchema(BaseSchema):
    latest = fields.Raw(metadata={"description": "the latest version's manifest"})
    versions = fields.List(fields.Integer())


class PlanRequestSchema(BaseSchema):
    version = fields.Integer(required=True, validate=validate.Range(1, 10_000))
    params = fields.Dict(keys=fields.String(validate=validate.Length(1, 30)),
                         values=fields.Raw(), load_default=dict)
    channel_id = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "the channel whose account rules it sets; the primary one when left out"})


class ApplyRequestSchema(PlanRequestSchema):
    idempotency_key = fields.String(required=True, validate=validate.Regexp(
        r"^[\x21-\x7e]{1,100}$", error="Use 1-100 visible ASCII characters."))
    adopt = fields.Boolean(load_default=False, metadata={
        "description": "take over resources the merchant made by hand (else they are a 409)"})


class PlanResourceSchema(BaseSchema):
    kind = fields.String(metadata={"description": "program, mapping or sms"})
    key = fields.String(metadata={
        "description": "natural key: program code, mapping pattern, program/event/language"})
    action = fields.String(metadata={"description": "create, update, unchanged or conflict"})
    changes = fields.Dict(metadata={"description": "field → {from, to}"})
    value = fields.Dict(metadata={
        "description": "`unchanged` only: what the resource already is, field → value "
                       "(the fields the template sets, e.g. `{\"program\": \"vip\"}`)"})


class _PlannedSchema(BaseSchema):
    template = fields.String()
    version = fields.Integer()
    params = fields.Dict()
    channel_id = fields.Integer(allow_none=True)
    resources = fields.List(fields.Nested(PlanResourceSchema))
    notes = fields.List(fields.String())


class PlanProgramBacktestSchema(BacktestSchema):
    name = fields.String(metadata={"description": "the program's name as the template sets it"})
    action = fields.String(metadata={"description": "the program's action in the plan: "
                                                    "create, update or conflict"})
    basis = fields.String(metadata={
        "description": "`own`: the program's own payments; `routed`: a program to be "
                       "created, the payments on the plan's channel its account rules "
                       "would send to it (exact reference, longest prefix, default)"})


class PlanBacktestSchema(BaseSchema):
    start = fields.DateTime(data_key="from")
    end = fields.DateTime(data_key="to")
    days = fields.Integer()
    programs = fields.List(fields.Nested(PlanProgramBacktestSchema))


class TemplatePlanSchema(_PlannedSchema):
    backtest = fields.Nested(PlanBacktestSchema, allow_none=True, metadata={
        "description": "per program the plan creates or changes, what its rule would have "
                       "earned over the last 90 days' credited payments; null when the "
                       "merchant has none"})


class ApplyResultSchema(_PlannedSchema):
    idempotency_key = fields.String()
    adopted = fields.Boolean()
    applied_at = fields.String(metadata={"description": "ISO 8601, UTC"})
    replayed = fields.Boolean(metadata={"description": "true when this key was applied before"})
