"""Browser sessions for merchants (Flask-Login).

The session and the remember-me cookie carry `Merchant.get_id()`: the merchant's id and
its session version, both signed with SECRET_KEY. A password change or reset raises the
version, so every session and remember-me cookie issued before it stops loading a
merchant here; the page that made the change logs in again with the new one
(`log_in_again`).
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import gettext
from flask_login import login_user
from flask_login.config import COOKIE_NAME

from loyalty.extensions import login_manager
from loyalty.models import Merchant
from loyalty.services.merchants import get_merchant
from loyalty.web.i18n import N_


def init_login(app: Flask) -> None:
    # Pages that need a merchant send visitors here (see web.blueprint's before_request).
    login_manager.login_view = "web.login"
    login_manager.login_message = N_("Log in to continue.")
    login_manager.localize_callback = gettext  # the visitor's language (web/i18n.py)
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_merchant(session_id: str):
        merchant_id, _, version = session_id.partition(":")
        if not (merchant_id.isdigit() and version.isdigit()):
            return None  # not ours, or issued before sessions carried a version
        merchant = get_merchant(int(merchant_id))
        if merchant is None or not merchant.is_active \
                or merchant.session_version != int(version):
            return None
        return merchant


def log_in_again(merchant: Merchant) -> None:
    """After this browser changed the password: its session (and its remember-me cookie,
    if it had one) carries the new session version, while every other one has ended."""
    cookie = current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME)
    login_user(merchant, remember=cookie in request.cookies)
