"""Merchants: public registration and the caller's own profile."""

from flask_smorest import Blueprint

from loyalty.api.base import public
from loyalty.schemas.merchants import (
    MerchantCreateSchema,
    MerchantRegisteredSchema,
    MerchantSchema,
    MerchantUpdateSchema,
)
from loyalty.services import merchants as service

blp = Blueprint("merchants", __name__, url_prefix="/api/v1/merchants",
                description="Register a merchant and manage its profile")


@blp.route("", methods=["POST"])
@blp.arguments(MerchantCreateSchema)
@blp.response(201, MerchantRegisteredSchema)
@blp.doc(security=[])
@public
def register(data):
    """Register a merchant (public); the API key is shown only in this response."""
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
