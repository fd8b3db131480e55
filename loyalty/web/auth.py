"""Browser sessions for merchants (Flask-Login)."""

from __future__ import annotations

from flask import Flask

from loyalty.extensions import login_manager
from loyalty.services.merchants import get_merchant


def init_login(app: Flask) -> None:
    # Pages that need a merchant send visitors here (see web.blueprint's before_request).
    login_manager.login_view = "web.login"
    login_manager.login_message = "Log in to continue."
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_merchant(merchant_id: str):
        merchant = get_merchant(int(merchant_id)) if merchant_id.isdigit() else None
        return merchant if merchant is not None and merchant.is_active else None
