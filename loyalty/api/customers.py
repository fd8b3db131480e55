"""Customers: enrol, find by phone, balances, ledger, redemptions, adjustments."""

from flask_smorest import Blueprint

from loyalty.api.openapi import conflict
from loyalty.schemas.customers import (
    AdjustmentCreateSchema,
    AdjustmentSchema,
    CustomerCreateSchema,
    CustomerDetailSchema,
    CustomerPageSchema,
    CustomerQueryArgsSchema,
    CustomerUpdateSchema,
    LedgerPageSchema,
    LedgerQueryArgsSchema,
    RedemptionCreateSchema,
    RedemptionSchema,
)
from loyalty.schemas.messages import SmsMessagePageSchema, SmsMessageQueryArgsSchema
from loyalty.services import adjustments, erasure, message_log, redemptions
from loyalty.services import customers as service

blp = Blueprint("customers", __name__, url_prefix="/api/v1/customers",
                description="Customers, their points and stamps")


@blp.route("", methods=["POST"])
@blp.arguments(CustomerCreateSchema, example={"phone": "0712345678", "first_name": "John",
                                              "last_name": "Doe"})
@blp.response(201, CustomerDetailSchema)
def enrol(data):
    """Enrol a customer by phone.

    Earlier payments from the same number (which M-Pesa sends as a hash) are claimed: their
    points are the customer's. Enrolling a known phone again fills in missing names and
    leaves `sms_opt_out`, `marketing_consent` and `language` as they are unless sent.
    `language` (`en` or `sw`) is the language of their texts; null follows the merchant's
    `sms_language`."""
    return service.customer_detail(service.enrol_customer(source="api", **data).id)


@blp.route("", methods=["GET"])
@blp.arguments(CustomerQueryArgsSchema, location="query")
@blp.response(200, CustomerPageSchema)
def list_customers(args):
    """List customers, newest first.

    `phone` (any usual form) finds the customer with that number, enrolled or known only
    from a payment's hashed number."""
    return service.customer_page(**args)


@blp.route("/<int:customer_id>", methods=["GET"])
@blp.response(200, CustomerDetailSchema)
def get(customer_id):
    """Show a customer with balances.

    Per program: points, lifetime points, stamps on the card and rewards earned."""
    return service.customer_detail(customer_id)


@blp.route("/<int:customer_id>", methods=["PATCH"])
@blp.arguments(CustomerUpdateSchema)
@blp.response(200, CustomerDetailSchema)
@conflict("`phone_taken` (another customer has that phone) or `customer_erased`.")
def update(data, customer_id):
    """Correct a customer's names or phone, or change their consent or language.

    Each consent change is recorded with its time and source `api`; opting out cancels
    the customer's queued texts. Another customer's phone is 409 `phone_taken`; an erased
    customer cannot be edited (409 `customer_erased`)."""
    service.update_customer(customer_id, source="api", **data)
    return service.customer_detail(customer_id)


@blp.route("/<int:customer_id>", methods=["DELETE"])
@blp.response(204)
def erase(customer_id):
    """Erase a customer's personal data.

    Names and phone, the payer names and MSISDN of
    their payments (raw payloads and stored callback bodies too), the numbers and words of
    their texts; queued texts are cancelled. Amounts, receipts, ledger and balances stay,
    under the customer's id. A later payment from the number starts a new customer."""
    erasure.erase_customer(customer_id, source="api")


@blp.route("/<int:customer_id>/ledger", methods=["GET"])
@blp.arguments(LedgerQueryArgsSchema, location="query")
@blp.response(200, LedgerPageSchema)
def ledger(args, customer_id):
    """List a customer's ledger, newest first.

    Every earn, stamp, redemption, expiry, reversal and adjustment, with the payment,
    redemption or adjustment it belongs to."""
    return service.ledger_page(customer_id, **args)


@blp.route("/<int:customer_id>/messages", methods=["GET"])
@blp.arguments(SmsMessageQueryArgsSchema, location="query")
@blp.response(200, SmsMessagePageSchema)
def messages(args, customer_id):
    """List the texts to a customer, newest first.

    Each with its purpose, kind (`transactional` or `promotional`), status, when it was
    sent, what the delivery report said (`delivered_at` or `failure_reason`) and its cost
    when the gateway reported one."""
    return message_log.customer_messages(customer_id, **args)


@blp.route("/<int:customer_id>/redemptions", methods=["POST"])
@blp.arguments(RedemptionCreateSchema, example={
    "program": "vip", "points": 100, "description": "KES 100 off", "idempotency_key": "pos-4711"})
@blp.response(201, RedemptionSchema)
@blp.alt_response(200, schema=RedemptionSchema, description="the same idempotency key again")
@conflict("`insufficient_points` (the balance is short), `balance_negative` (a reversal left "
          "it below zero) or `idempotency_key_reused` (the key was used with another body).")
def redeem(data, customer_id):
    """Redeem points.

    Spends the oldest points first; 409 when the balance is short. Repeating an
    idempotency key returns the first redemption instead of spending twice."""
    result, created = redemptions.redeem_points(customer_id, **data)
    return result, 201 if created else 200


@blp.route("/<int:customer_id>/adjustments", methods=["POST"])
@blp.arguments(AdjustmentCreateSchema, example={
    "program": "loyalty", "points": 50, "reason": "Goodwill: late delivery",
    "idempotency_key": "care-2231"})
@blp.response(201, AdjustmentSchema)
@blp.alt_response(200, schema=AdjustmentSchema, description="the same idempotency key again")
@conflict("`idempotency_key_reused`: the key was used with another body.")
def adjust(data, customer_id):
    """Adjust points by hand.

    Adds (positive `points`) or takes away (negative) points, with a reason; the
    balance may go below zero. Repeating an idempotency key returns the first adjustment;
    the same key with another body is 409."""
    result, created = adjustments.adjust_points(customer_id, **data)
    return result, 201 if created else 200
