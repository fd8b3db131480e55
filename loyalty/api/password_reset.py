"""Password reset by a code texted to the merchant's phone (public: no API key)."""

from flask_smorest import Blueprint

from loyalty import ratelimits
from loyalty.api.base import public
from loyalty.ratelimits import limited
from loyalty.schemas.merchants import (
    MessageSchema,
    PasswordResetConfirmSchema,
    PasswordResetRequestSchema,
)
from loyalty.services import passwords

blp = Blueprint("password_reset", __name__, url_prefix="/api/v1/password-reset",
                description="Forgot the password: a code texted to the merchant's phone")

REQUESTED = ("If this email belongs to a merchant, a six-digit code is on its way to the "
             f"merchant's phone. It works for {passwords.RESET_CODE_MINUTES} minutes.")
DONE = "The password is changed. Every session that was logged in has ended."


@blp.route("", methods=["POST"])
@limited(ratelimits.reset_code, ratelimits.reset_address)
@blp.arguments(PasswordResetRequestSchema)
@blp.response(202, MessageSchema)
@blp.doc(security=[])
@public
def request_code(data):
    """Ask for a password reset code.

    Texts a six-digit code to the phone of the merchant with this email. The answer is the
    same whether or not the email is registered. At most RATE_LIMIT_PASSWORD_RESET (3 an
    hour) per email and RATE_LIMIT_PASSWORD_RESET_ADDRESS (20 an hour) per client address,
    with the web UI's form: 429 with Retry-After beyond."""
    passwords.request_reset(data["email"])
    return {"message": REQUESTED}


@blp.route("/confirm", methods=["POST"])
@limited(ratelimits.reset_address)
@blp.arguments(PasswordResetConfirmSchema)
@blp.response(200, MessageSchema)
@blp.doc(security=[])
@public
def confirm(data):
    """Set a new password with the texted code.

    A wrong or expired code, a code tried
    five times, and an unknown email are all refused alike (422 naming `code`). Each try
    counts against RATE_LIMIT_PASSWORD_RESET_ADDRESS (429 with Retry-After beyond)."""
    passwords.confirm_reset(data["email"], data["code"], data["new_password"])
    return {"message": DONE}
