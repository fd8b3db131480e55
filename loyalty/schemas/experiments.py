"""Experiment shapes: a program, variants (each a rule override), a split, a metric."""

from marshmallow import ValidationError, fields, validate, validates_schema

from loyalty.schemas.backtest import RuleSchema  # one rule-override shape for both
from loyalty.schemas.base import INT32_MAX, BaseSchema, TrimmedString, page_schema
from loyalty.schemas.programs import MONEY

KEY = validate.Regexp(r"^[A-Za-z0-9_-]{1,20}$", error="Use 1-20 letters, digits, '-' or '_'.")


class VariantSchema(BaseSchema):
    key = fields.String(required=True, validate=KEY)
    rule = fields.Nested(RuleSchema, required=True)


class MetricSchema(BaseSchema):
    kind = fields.String(required=True, validate=validate.OneOf(["repeat_within_days"]))
    days = fields.Integer(required=True, validate=validate.Range(1, 90))


class ExperimentCreateSchema(BaseSchema):
    name = TrimmedString(required=True, validate=validate.Length(1, 100))
    program = fields.String(required=True, validate=validate.Length(1, 40))
    channel_ids = fields.List(fields.Integer(validate=validate.Range(1, INT32_MAX)),
                              validate=validate.Length(max=50), allow_none=True)
    variants = fields.List(fields.Nested(VariantSchema), required=True,
                           validate=validate.Length(2, 5))
    split = fields.List(fields.Integer(validate=validate.Range(1, 99)), required=True,
                        validate=validate.Length(2, 5))
    metric = fields.Nested(MetricSchema, required=True)
    minimum_detectable_effect = fields.Float(required=True, validate=validate.Range(
        0, 1, min_inclusive=False, max_inclusive=False), metadata={
            "description": "the smallest change of the repeat rate worth finding, in absolute "
                           "rate points: 0.05 = five percentage points"})
    method = fields.String(required=True, validate=validate.OneOf(["fixed", "sequential"]))

    @validates_schema
    def _split_matches(self, data, **kwargs):
        variants, split = data.get("variants"), data.get("split")
        if variants and len({v["key"] for v in variants}) != len(variants):
            raise ValidationError("Each variant needs its own key.", "variants")
        if variants and split is not None:
            if len(split) != len(variants):
                raise ValidationError(f"Give one share per variant ({len(variants)}).", "split")
            if sum(split) != 100:
                raise ValidationError("The shares must add up to 100.", "split")


class PromoteSchema(BaseSchema):
    variant = fields.String(required=True, validate=KEY)


class ResultsArgsSchema(BaseSchema):
    point_value = fields.Decimal(load_default=None, validate=validate.Range(min=0, max=100_000),
                                 as_string=True, metadata={
                                     "description": "KES one point is worth when redeemed, "
                                                    "for the cost per customer (default 1)"})


class PlanSchema(BaseSchema):
    baseline_rate = fields.Float()
    weekly_new_payers = fields.Float()
    sample_size_per_arm = fields.Integer(allow_none=True)
    estimated_weeks = fields.Integer(allow_none=True)
    feasible = fields.Boolean()
    feasible_effect = fields.Float(allow_none=True)


class ExperimentSchema(BaseSchema):
    id = fields.Integer()
    name = fields.String()
    program = fields.Function(lambda experiment: experiment.program.code)
    channel_ids = fields.List(fields.Integer(), allow_none=True)
    variants = fields.List(fields.Dict())
    split = fields.List(fields.Integer())
    metric = fields.Method("_metric")
    minimum_detectable_effect = fields.Float()
    method = fields.String()
    status = fields.String()
    plan = fields.Nested(PlanSchema)
    started_at = fields.DateTime(allow_none=True)
    stopped_at = fields.DateTime(allow_none=True)
    promoted_variant = fields.String(allow_none=True)
    created_at = fields.DateTime()

    def _metric(self, experiment) -> dict:
        return {"kind": "repeat_within_days", "days": experiment.metric_days}


ExperimentPageSchema = page_schema(ExperimentSchema, "ExperimentPageSchema")


class VariantResultSchema(BaseSchema):
    key = fields.String()
    rule = fields.Dict()
    assigned = fields.Integer()
    enrolled = fields.Integer(metadata={"description": "payers with complete follow-up"})
    repeaters = fields.Integer()
    rate = fields.Float(allow_none=True)
    ci_low = fields.Float()
    ci_high = fields.Float()
    points_cost_kes_per_customer = fields.Decimal(**MONEY)
    opt_out_rate = fields.Float(allow_none=True)


def _effect(description: str) -> fields.Float:
    """One of the figures of the effect, which results.py hides together: null until a
    fixed experiment's planned analysis date."""
    return fields.Float(allow_none=True, metadata={
        "description": f"{description}; null until the analysis date of a fixed experiment"})


class ComparisonSchema(BaseSchema):
    variant = fields.String()
    difference = _effect("this variant's rate minus the control's")
    ci_low = _effect("low end of the difference's 95% interval (Newcombe)")
    ci_high = _effect("high end of the difference's 95% interval")
    z = _effect("pooled two-proportion z")
    p_value = _effect("two-sided p of z")
    look = fields.Integer()
    decision = fields.String(allow_none=True)


class ResultsSchema(BaseSchema):
    experiment_id = fields.Integer()
    status = fields.String()
    method = fields.String()
    metric_days = fields.Integer()
    variants = fields.List(fields.Nested(VariantResultSchema))
    comparisons = fields.List(fields.Nested(ComparisonSchema))
    sample_ratio = fields.Dict()
    masked_share = fields.Float(allow_none=True)
    analysis_at = fields.DateTime(allow_none=True)
    looks = fields.Dict(allow_none=True)
    decision = fields.String(allow_none=True)
    verdict = fields.String(allow_none=True)
