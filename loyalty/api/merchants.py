"""Merchants: public registration and the caller's own profile."""

from flask_smorest import Blueprint

from loyalty import ratelimits
from loyalty.api.base import public
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
@blp.arguments(MerchantCreateSchema)
@blp.response(201, MerchantRegisteredSchema)
@blp.doc(security=[])
@public
def register(data):
    """Register a merchant (public); the API key is shown only in this response. At most
    RATE_LIMIT_SIGNUP (5 an hour) per client address, with the web sign-up."""
    return service.register_merchant(**data)


@blp.route("/me", methods=["GET"])
@blp.response(200, MerchantSchema)
def me():
    """The merchant the API key belongs to."""
    return service.get_current_merchant()


@blp.route("/me", methods=["PATCH"])
@blp.arguments(MerchantUpdateSchema)
@blp.response(200, MerchantSchema)
def update_me(changes):
    """Change the business profile."""
    return service.update_current_merchant(changes)


@blp.route("/me/password", methods=["POST"])
@blp.arguments(PasswordChangeSchema)
@blp.response(204)
def change_password(data):
    """Change the password, given the current one (422 naming `current_password` when it is
    not right). Every web session and remember-me cookie ends; API keys keep working."""
    passwords.change_password(data["current_password"], data["new_password"])
