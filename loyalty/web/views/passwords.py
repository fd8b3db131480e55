"""Change the password; forgot it: a code texted to the merchant's phone (services/passwords.py)."""

from __future__ import annotations

from flask import flash, redirect, session, url_for
from flask_babel import gettext as _

from loyalty import ratelimits
from loyalty.errors import DomainError
from loyalty.schemas.merchants import (
    PasswordChangeSchema,
    PasswordResetConfirmSchema,
    PasswordResetRequestSchema,
)
from loyalty.services import passwords
from loyalty.web.auth import log_in_again
from loyalty.web.blueprint import bp
from loyalty.web.forms import ForgotPasswordForm, PasswordChangeForm, ResetPasswordForm
from loyalty.web.formtools import checked, page, show_error, values

# The email typed on "Forgot password?", carried to the next page in the (signed) session
# rather than in its URL, where logs and browser history would keep it.
RESET_EMAIL = "password_reset_email"


@bp.route("/settings/password", methods=["GET", "POST"])
def change_password():
    form = PasswordChangeForm()
    data = checked(form, PasswordChangeSchema(),
                   lambda: values(form, ("current_password", "new_password")))
    if data is not None:
        try:
            merchant = passwords.change_password(data["current_password"], data["new_password"])
        except DomainError as error:
            show_error(form, error)
        else:
            log_in_again(merchant)
            flash(_("Your password is changed. Every other device that was logged in has "
                    "been logged out."), "success")
            return redirect(url_for("web.dashboard"))
    return page("web/password_change.html", form)


@bp.route("/forgot-password", methods=["GET", "POST"])
@ratelimits.reset_code
@ratelimits.reset_address
def forgot_password():
    form = ForgotPasswordForm()
    data = checked(form, PasswordResetRequestSchema(), lambda: values(form, ("email",)))
    if data is not None:
        passwords.request_reset(data["email"])
        session[RESET_EMAIL] = data["email"]
        flash(_("If %(email)s belongs to a merchant, a six-digit code is on its way to the "
                "merchant's phone. It works for %(num)s minutes.", email=data["email"],
                num=passwords.RESET_CODE_MINUTES), "info")
        return redirect(url_for("web.reset_password"))
    return page("web/password_forgot.html", form)


@bp.route("/reset-password", methods=["GET", "POST"])
@ratelimits.reset_address
def reset_password():
    form = ResetPasswordForm()
    if not form.is_submitted():
        form.email.data = session.get(RESET_EMAIL, "")
    data = checked(form, PasswordResetConfirmSchema(),
                   lambda: values(form, ("email", "code", "new_password")))
    if data is not None:
        try:
            passwords.confirm_reset(data["email"], data["code"], data["new_password"])
        except DomainError as error:
            show_error(form, error)
        else:
            session.pop(RESET_EMAIL, None)
            flash(_("Your password is changed, and every device that was logged in has been "
                    "logged out. Log in with the new password."), "success")
            return redirect(url_for("web.login"))
    return page("web/password_reset.html", form)
