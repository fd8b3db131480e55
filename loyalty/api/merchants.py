"""Merchants: public registration and the caller's own profile."""

from flask_smorest import Blueprint

from loyalty import ratelimits
from loyalty.api.base import public
from loyalty.api.openapi import conflict
from loyalty.ratelimits import limited
from loyalty.schemas.merchants import (
    MerchantCreateSchema,
    MerchantRegisteredSchema,
    MerchantSchema,
    MerchantUpdateSchema,
    PasswordChangeSchema,
)
from loyalty.services import merchants as service
from loyalty.services import passwords

blp = Blueprint("merchants", __name__, url_prefix="/api/v1/merchants",
                description="Register a merchant and manage its profile")


@blp.route("", methods=["POST"])
@limited(ratelimits.signup)
@blp.arguments(MerchantCreateSchema, example={
    "business_name": "Acme Electronics", "owner_name": "John Doe", "email": "john@acme.com",
    "phone": "254712345678", "business_type": "RETAIL", "password": "a long secret"})
@blp.response(201, MerchantRegisteredSchema)
@blp.doc(security=[])
@conflict("`email_taken`: a merchant with this email is registered already.")
@public
def register(data):
    """Register a merchant (public, no API key).

    Creates the merchant with its default loyalty program and answers its first API key,
    shown only in this response. At most RATE_LIMIT_SIGNUP (5 an hour) per client address,
    with the web sign-up."""
    return service.register_merchant(**data)


@blp.route("/me", methods=["GET"])
@blp.response(200, MerchantSchema)
def me():
    """Show the caller's merchant.

    The merchant the API key belongs to: its business profile and SMS test numbers."""
    return service.get_current_merchant()


@blp.route("/me", methods=["PATCH"])
@blp.arguments(MerchantUpdateSchema)
@blp.response(200, MerchantSchema)
@conflict("`sms_keyword_taken`: another merchant uses this SMS keyword.")
def update_me(changes):
    """Change the business profile.

    Only the fields sent change; `sms_test_numbers` replaces the list (at most 5).
    `sms_language` (`en` or `sw`) is the language of texts to customers who have not
    chosen one."""
    return service.update_current_merchant(changes)


@blp.route("/me/password", methods=["POST"])
@blp.arguments(PasswordChangeSchema)
@blp.response(204)
def change_password(data):
    """Change the web UI password.

    Needs the current one (422 naming `current_password` when it is not right). Every web
    session and remember-me cookie ends; API keys keep working."""
    passwords.change_password(data["current_password"], data["new_password"])
