"""Customers: enrol, find by phone, balances, ledger, redemptions, adjustments."""

from flask_smorest import Blueprint

from loyalty.schemas.customers import (
    AdjustmentCreateSchema,
    AdjustmentSchema,
    CustomerCreateSchema,
    CustomerDetailSchema,
    CustomerPageSchema,
    CustomerQueryArgsSchema,
    LedgerPageSchema,
    LedgerQueryArgsSchema,
    RedemptionCreateSchema,
    RedemptionSchema,
)
from loyalty.services import adjustments, redemptions
from loyalty.services import customers as service

blp = Blueprint("customers", __name__, url_prefix="/api/v1/customers",
                description="Customers, their points and stamps")


@blp.route("", methods=["POST"])
@blp.arguments(CustomerCreateSchema)
@blp.response(201, CustomerDetailSchema)
def enrol(data):
    """Enrol a phone; earlier payments from the same number (seen as a hash) are claimed."""
    return service.customer_detail(service.enrol_customer(**data).id)


@blp.route("", methods=["GET"])
@blp.arguments(CustomerQueryArgsSchema, location="query")
@blp.response(200, CustomerPageSchema)
def list_customers(args):
    return service.customer_page(**args)


@blp.route("/<int:customer_id>", methods=["GET"])
@blp.response(200, CustomerDetailSchema)
def get(customer_id):
    return service.customer_detail(customer_id)


@blp.route("/<int:customer_id>/ledger", methods=["GET"])
@blp.arguments(LedgerQueryArgsSchema, location="query")
@blp.response(200, LedgerPageSchema)
def ledger(args, customer_id):
    return service.ledger_page(customer_id, **args)


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
