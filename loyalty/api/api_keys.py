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
@blp.arguments(ApiKeyCreateSchema, example={"name": "POS till 2"})
@blp.response(201, ApiKeyCreatedSchema)
def create(data):
    """Create an API key.

    The response is the only place the key ever appears: only a hash of it is stored."""
    return service.create_api_key(data["name"])


@blp.route("", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ApiKeyPageSchema)
def list_keys(args):
    """List the merchant's API keys.

    Revoked ones included, oldest first, with `last_used_at` (to the minute); never the
    keys themselves."""
    return service.api_key_page(**args)


@blp.route("/<int:key_id>", methods=["DELETE"])
@blp.response(200, ApiKeySchema)
def revoke(key_id):
    """Revoke an API key.

    Requests with it are refused (401) from now on; revoking it again changes nothing."""
    return service.revoke_api_key(key_id)
