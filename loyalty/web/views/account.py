"""Sign up, log in, log out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from loyalty import ratelimits
from loyalty.errors import DomainError
from loyalty.schemas.merchants import MerchantCreateSchema
from loyalty.services import merchants
from loyalty.web.blueprint import bp
from loyalty.web.forms import ActionForm, LoginForm, SignupForm
from loyalty.web.formtools import checked, page, values
from loyalty.web.i18n import say

SIGNUP_FIELDS = ("business_name", "owner_name", "email", "phone", "business_type", "password")


@bp.get("/")
def index():
    """Visitors see what the platform does; a logged-in merchant goes to the dashboard."""
    if current_user.is_authenticated:
        return redirect(url_for("web.dashboard"))
    return render_template("web/landing.html")


@bp.route("/signup", methods=["GET", "POST"])
@ratelimits.signup
def signup():
    form = SignupForm()
    data = checked(form, MerchantCreateSchema(), lambda: values(form, SIGNUP_FIELDS))
    if data is not None:
        try:
            registration = merchants.register_merchant(**data, api_key_name=None)
        except DomainError as error:
            if error.code != "email_taken":
                raise
            form.email.errors = [say(error.message)]
        else:
            login_user(registration.merchant)
            flash(_("Welcome! Next, connect your first M-Pesa channel."), "success")
            return redirect(url_for("web.new_channel"))
    return page("web/signup.html", form)


@bp.route("/login", methods=["GET", "POST"])
@ratelimits.failed_login
@ratelimits.failed_login_account
def login():
    """Failed log-ins are limited per (email, address) and per account (ratelimits.py):
    once either is used up, even the right password waits (429)."""
    if current_user.is_authenticated:
        return redirect(url_for("web.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        merchant = merchants.authenticate_password(form.email.data, form.password.data)
        if merchant is None:
            ratelimits.login_failed()
            form.form_errors.append(_("The email or password is not right."))
            _warn_before_the_lock(form)
        else:
            ratelimits.login_succeeded()
            login_user(merchant, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
    return page("web/login.html", form)


@bp.post("/logout")
def logout():
    if ActionForm().validate_on_submit():
        logout_user()
        flash(_("You are logged out."), "info")
    return redirect(url_for("web.login"))


def _warn_before_the_lock(form: LoginForm) -> None:
    """One try before the log-in locks: say so, and offer the way that does not lock."""
    left = ratelimits.login_tries_left()
    if left is not None and left[0] == 1:
        form.form_errors.append(_(
            "One more wrong password and logging in with this email is locked for "
            "%(span)s. Not sure of it? Use “Forgot password?” below.",
            span=_in_words(left[1])))


def _in_words(seconds: int) -> str:
    """ratelimits.in_words in the page's language: 90 seconds, 15 minutes, 2 hours."""
    if seconds < 90:
        return _("%(num)s seconds", num=seconds)
    minutes = -(-seconds // 60)
    return _("%(num)s minutes", num=minutes) if minutes < 90 else \
        _("%(num)s hours", num=-(-minutes // 60))


def _safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would make phishing links look like ours."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//") and "\\" not in target:
            return target
    return url_for("web.dashboard")
