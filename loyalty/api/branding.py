"""White-label: the merchant's logo, sender IDs and own SMS account (DESIGN.md section 13).

Display name and colours are part of the profile (`PATCH /merchants/me {"branding": …}`).
"""

from flask import current_app, request
from flask_smorest import Blueprint

from loyalty.api.input_guard import upload
from loyalty.schemas.branding import (
    SenderIdListSchema,
    SenderIdRequestSchema,
    SenderIdSchema,
    SmsAccountSchema,
    SmsProviderSchema,
)
from loyalty.schemas.merchants import MerchantSchema
from loyalty.services import branding, pages, sender_ids, sms_accounts

blp = Blueprint("branding", __name__, url_prefix="/api/v1/merchants/me",
                description="White-label: logo, sender IDs, your own SMS account")

# The file itself, or a form's `logo` field; a form's framing adds a few hundred bytes.
_FORM_OVERHEAD = 16 * 1024
_BINARY = {"schema": {"type": "string", "format": "binary"}}
LOGO_BODY = {"required": True, "description": "PNG, JPEG or WebP, at most 512 KiB",
             "content": {"image/png": _BINARY, "image/jpeg": _BINARY, "image/webp": _BINARY,
                         "multipart/form-data": {"schema": {
                             "type": "object", "properties": {"logo": _BINARY}}}}}


def _uploaded(field: str) -> bytes:
    """The uploaded file's bytes: a multipart field, else the whole body (never more than
    the view's upload limit is read: werkzeug answers 413 first)."""
    if request.mimetype == "multipart/form-data":
        upload_file = request.files.get(field)
        # one byte past the limit is enough to know it is too large
        return upload_file.stream.read(branding.MAX_LOGO_BYTES + 1) if upload_file else b""
    return request.get_data(cache=False)


@blp.route("/logo", methods=["PUT"])
@blp.doc(requestBody=LOGO_BODY)
@blp.response(200, MerchantSchema)
@blp.alt_response(413, description="The file is larger than 512 KiB (`payload_too_large`).")
@upload(branding.MAX_LOGO_BYTES + _FORM_OVERHEAD)
def put_logo():
    """Upload the logo.

    The image as the body with its Content-Type, or multipart field `logo`; at most
    512 KiB. PNG, JPEG or WebP, judged by the file's first bytes (SVG and anything else:
    415). Re-encoded to a PNG of at most 256 px a side and served at `branding.logo_url`."""
    return branding.set_logo(_uploaded("logo"))


@blp.route("/logo", methods=["DELETE"])
@blp.response(200, MerchantSchema)
def delete_logo():
    """Remove the logo.

    The UI shows the business name alone again."""
    return branding.remove_logo()


@blp.route("/sender-id", methods=["GET"])
@blp.response(200, SenderIdListSchema)
def list_sender_ids():
    """Show the sender IDs.

    Each category's request and its state (`pending`, `approved`, `rejected` with a
    reason); a category without an approved ID texts from `default_sender`."""
    return {**pages.whole(sender_ids.sender_ids()),
            "default_sender": current_app.config.get("AT_SENDER_ID") or None}


@blp.route("/sender-id", methods=["PUT"])
@blp.arguments(SenderIdRequestSchema, example={"sender_id": "ACME SHOP",
                                               "category": "transactional"})
@blp.response(200, SenderIdSchema)
def put_sender_id(data):
    """Request a sender ID.

    At most 11 letters, digits and spaces, for `transactional` texts (receipts) or
    `promotional` ones (offers). It is `pending` until the platform's operator has it
    registered; names imitating M-PESA, Safaricom, banks or the government are refused (422)."""
    return sender_ids.request_sender_id(data["sender_id"], data["category"].value)


@blp.route("/sms-provider", methods=["GET"])
@blp.response(200, SmsAccountSchema)
def get_sms_provider():
    """Show the SMS account.

    Whether texts go through your own Africa's Talking account (its username; never the key)."""
    return sms_accounts.current_account()


@blp.route("/sms-provider", methods=["PUT"])
@blp.arguments(SmsProviderSchema, example={"username": "acme", "api_key": "atsk_…"})
@blp.response(200, SmsAccountSchema)
@blp.alt_response(503, description="Africa's Talking could not be reached to check the "
                                   "account; nothing changed (`service_unavailable`).")
def put_sms_provider(data):
    """Use your own Africa's Talking account.

    The username and API key are checked with Africa's Talking first (422 when refused),
    stored encrypted, and never shown again; your texts then go through that account."""
    return sms_accounts.set_own_account(data["username"], data["api_key"])


@blp.route("/sms-provider", methods=["DELETE"])
@blp.response(200, SmsAccountSchema)
def delete_sms_provider():
    """Go back to the platform's SMS account.

    The stored username and key are deleted."""
    return sms_accounts.remove_own_account()
