"""Local Daraja + Africa's Talking emulator (DESIGN.md 5a): development and end-to-end tests.

`init_app(app)` mounts it when `DARAJA_EMULATOR` is set, and refuses to in production:
    /_emulator/daraja/...   Safaricom's paths (set DARAJA_SANDBOX_URL to this base)
    /_emulator/sms/...      Africa's Talking's paths (set AT_BASE_URL to this base)
    /_emulator/control/...  scripting for tests; /_emulator/state is everything as JSON
    /_emulator/             a page to pay a merchant and read the SMS inbox
"""

from __future__ import annotations

from flask import Flask

from loyalty.emulator import control, daraja_views, pages, sms_views
from loyalty.emulator.core import Emulator
from loyalty.emulator.store import make_store

__all__ = ["Emulator", "get_emulator", "init_app"]


def init_app(app: Flask) -> None:
    if not app.config.get("DARAJA_EMULATOR"):
        return
    if app.config.get("APP_ENV") == "production":
        raise RuntimeError("The Daraja emulator is never mounted when APP_ENV=production")
    if "emulator" in app.extensions:
        return  # idempotent: create_app and a test may both call it

    store = make_store(app.config.get("REDIS_URL"), app.config.get("REDIS_KEY_PREFIX", "loyalty:"))
    # AT's dashboard holds the platform's SMS callback URLs; here they are the host app's
    # own (loyalty/emulator/sms_reports.py), read once, like the settings above.
    token = app.config.get("SMS_CALLBACK_TOKEN") or ""
    base = app.config.get("CALLBACK_BASE_URL") or app.config.get("PUBLIC_BASE_URL") or ""
    app.extensions["emulator"] = Emulator.build(
        store, sync_callbacks=bool(app.config.get("EMULATOR_SYNC_CALLBACKS", False)),
        sms_callback_base=f"{base.rstrip('/')}/hooks/sms/{token}" if token and base else None,
        sms_shortcode=str(app.config.get("SMS_SHORTCODE") or ""),
    )
    # The host app's CSRF protection (Flask-WTF's, if installed) is found on the app, as a
    # separate service would find it: the emulator imports nothing of the app's.
    csrf = app.extensions.get("csrf")
    for module in (daraja_views, sms_views, control, pages):
        app.register_blueprint(module.bp)
        # Safaricom and Africa's Talking post without our CSRF token, and so do the tests.
        if csrf is not None:
            csrf.exempt(module.bp)


def get_emulator(app: Flask) -> Emulator:
    return app.extensions["emulator"]
