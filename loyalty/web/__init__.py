"""Merchant web UI blueprint (server-rendered pages over the same services as the API)."""

from __future__ import annotations

from flask import Flask

from loyalty.web import brand_assets, errors, views  # noqa: F401  (attach the handlers and routes to bp)
from loyalty.web.auth import init_login
from loyalty.web.blueprint import bp
from loyalty.web.i18n import init_i18n


def init_app(app: Flask) -> None:
    """Register the web UI: login sessions, then the pages' blueprint.

    CSRFProtect is installed app-wide in create_app and the web blueprint is deliberately
    not exempted: every form here is a cookie-authenticated POST.
    """
    init_login(app)
    init_i18n(app)
    # Cookies: not readable by scripts, not sent along with cross-site posts, HTTPS-only
    # in production (where callbacks need HTTPS anyway).
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    if app.config.get("APP_ENV") == "production":
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config.setdefault("REMEMBER_COOKIE_SECURE", True)
    app.register_blueprint(bp)
    app.register_blueprint(brand_assets.bp)  # public logo and theme files (branding)
