"""API keys: create (shown once), list, revoke."""

from flask_smorest import Blueprint

from loyalty.schemas.base import PageArgsSchema
from loyalty.schemas.merchants import (
    ApiKeyCreatedSchema,
    ApiKeyCreateSchema,
    ApiKeyPageSchema,
    ApiKeySchema,
)
from loyalty.services import merchants as service

blp = Blueprint("api_keys", __name__, url_prefix="/api/v1/api-keys",
                description="More API keys for the merchant; each is shown once")


@blp.route("", methods=["POST"])
@blp.arguments(ApiKeyCreateSchema)
@blp.response(201, ApiKeyCreatedSchema)
def create(data):
    """Create a key; the response is the only place the key ever appears."""
    return service.create_api_key(data["name"])


@blp.route("", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ApiKeyPageSchema)
def list_keys(args):
    """Every key of the merchant, revoked ones included (never the keys themselves)."""
    return service.api_key_page(**args)


@blp.route("/<int:key_id>", methods=["DELETE"])
@blp.response(200, ApiKeySchema)
def revoke(key_id):
    """Revoke a key; requests with it are refused from now on."""
    return service.revoke_api_key(key_id)
