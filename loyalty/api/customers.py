"""Customers: enrol, find by phone, balances, ledger, redemptions, adjustments."""

from flask_smorest import Blueprint

from loyalty.schemas.customers import (
    AdjustmentCreateSchema,
    AdjustmentSchema,
    CustomerCreateSchema,
    CustomerDetailSchema,
    CustomerQueryArgsSchema,
    CustomerSchema,
    CustomerUpdateSchema,
    LedgerEntrySchema,
    LedgerQueryArgsSchema,
    RedemptionCreateSchema,
    RedemptionSchema,
)
from loyalty.services import adjustments, erasure, redemptions
from loyalty.services import customers as service

blp = Blueprint("customers", __name__, url_prefix="/api/v1/customers",
                description="Customers, their points and stamps")


@blp.route("", methods=["POST"])
@blp.arguments(CustomerCreateSchema)
@blp.response(201, CustomerDetailSchema)
def enrol(data):
    """Enrol a phone; earlier payments from the same number (seen as a hash) are claimed.
    Enrolling a customer again leaves `sms_opt_out` and `marketing_consent` as they are
    unless sent."""
    return service.customer_detail(service.enrol_customer(source="api", **data).id)


@blp.route("", methods=["GET"])
@blp.arguments(CustomerQueryArgsSchema, location="query")
@blp.response(200, CustomerSchema(many=True))
def list_customers(args):
    return service.list_customers(**args)


@blp.route("/<int:customer_id>", methods=["GET"])
@blp.response(200, CustomerDetailSchema)
def get(customer_id):
    return service.customer_detail(customer_id)


@blp.route("/<int:customer_id>", methods=["PATCH"])
@blp.arguments(CustomerUpdateSchema)
@blp.response(200, CustomerDetailSchema)
def update(data, customer_id):
    """Correct names or phone, or change consent; each consent change is recorded with
    its time and source `api`. Opting out cancels the customer's queued texts."""
    service.update_customer(customer_id, source="api", **data)
    return service.customer_detail(customer_id)


@blp.route("/<int:customer_id>", methods=["DELETE"])
@blp.response(204)
def erase(customer_id):
    """Erase the customer's personal data: names and phone, the payer names and MSISDN of
    their payments (raw payloads and stored callback bodies too), the numbers and words of
    their texts; queued texts are cancelled. Amounts, receipts, ledger and balances stay,
    under the customer's id. A later payment from the number starts a new customer."""
    erasure.erase_customer(customer_id, source="api")


@blp.route("/<int:customer_id>/ledger", methods=["GET"])
@blp.arguments(LedgerQueryArgsSchema, location="query")
@blp.response(200, LedgerEntrySchema(many=True))
def ledger(args, customer_id):
    return service.ledger_of(customer_id, **args)


@blp.route("/<int:customer_id>/redemptions", methods=["POST"])
@blp.arguments(RedemptionCreateSchema)
@blp.response(201, RedemptionSchema)
@blp.alt_response(200, schema=RedemptionSchema, description="the same idempotency key again")
def redeem(data, customer_id):
    """Spend points; 409 when the balance is short. Repeating an idempotency key returns
    the first redemption instead of spending twice."""
    result, created = redemptions.redeem_points(customer_id, **data)
    return result, 201 if created else 200


@blp.route("/<int:customer_id>/adjustments", methods=["POST"])
@blp.arguments(AdjustmentCreateSchema)
@blp.response(201, AdjustmentSchema)
@blp.alt_response(200, schema=AdjustmentSchema, description="the same idempotency key again")
def adjust(data, customer_id):
    """Add (positive `points`) or take away (negative) points by hand, with a reason; the
    balance may go below zero. Repeating an idempotency key returns the first adjustment;
    the same key with another body is 409."""
    result, created = adjustments.adjust_points(customer_id, **data)
    return result, 201 if created else 200
