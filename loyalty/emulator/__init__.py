"""Local Daraja + Africa's Talking emulator (DESIGN.md 5a): development and end-to-end tests.

`init_app(app)` mounts it when `DARAJA_EMULATOR` is set, and refuses to in production:
    /_emulator/daraja/...   Safaricom's paths (set DARAJA_SANDBOX_URL to this base)
    /_emulator/sms/...      Africa's Talking's paths (set AT_BASE_URL to this base)
    /_emulator/control/...  scripting for tests; /_emulator/state is everything as JSON
    /_emulator/             a page to pay a merchant and read the SMS inbox
`standalone.create_app()` (`flask emulator serve`) serves the same views with Safaricom's and
Africa's Talking's paths at the root of their own port, for SDKs that join URLs with
`urljoin` and so drop a base URL's path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from loyalty.emulator import control, daraja_views, pages, sms_views
from loyalty.emulator.core import Emulator
from loyalty.emulator.store import make_store

__all__ = ["Emulator", "get_emulator", "init_app", "mount"]


def init_app(app: Flask) -> None:
    if not app.config.get("DARAJA_EMULATOR"):
        return
    if app.config.get("APP_ENV") == "production":
        raise RuntimeError("The Daraja emulator is never mounted when APP_ENV=production")
    if "emulator" in app.extensions:
        return  # idempotent: create_app and a test may both call it
    mount(app, daraja_prefix=daraja_views.PREFIX, sms_prefix=sms_views.PREFIX)


def mount(app: Flask, *, daraja_prefix: str, sms_prefix: str) -> None:
    """The emulator's state and views on `app`, Daraja and SMS under the given prefixes
    (`""`: the root); control and the page stay under `/_emulator`."""
    app.extensions["emulator"] = build(app.config)
    app.extensions["emulator_prefixes"] = {"daraja": daraja_prefix, "sms": sms_prefix}
    # The host app's CSRF protection (Flask-WTF's, if installed) is found on the app, as a
    # separate service would find it: the emulator imports nothing of the app's.
    csrf = app.extensions.get("csrf")
    prefixes = {daraja_views.bp: daraja_prefix, sms_views.bp: sms_prefix}
    for module in (daraja_views, sms_views, control, pages):
        app.register_blueprint(module.bp, url_prefix=prefixes.get(module.bp, module.bp.url_prefix))
        # Safaricom and Africa's Talking post without our CSRF token, and so do the tests.
        if csrf is not None:
            csrf.exempt(module.bp)


def build(config: Mapping[str, Any]) -> Emulator:
    """The emulator's state and callback machinery, as a host app's configuration sets them
    (the mounted views and the gateway-speed SMS server, sms_gateway.py, share it)."""
    store = make_store(config.get("REDIS_URL"), config.get("REDIS_KEY_PREFIX", "loyalty:"))
    # AT's dashboard holds the platform's SMS callback URLs; here they are the host app's
    # own (loyalty/emulator/sms_reports.py), read once from its configuration.
    token = config.get("SMS_CALLBACK_TOKEN") or ""
    base = config.get("CALLBACK_BASE_URL") or config.get("PUBLIC_BASE_URL") or ""
    return Emulator.build(
        store, sync_callbacks=bool(config.get("EMULATOR_SYNC_CALLBACKS", False)),
        # A production-config platform gets Safaricom's production URL rules whatever the
        # environment of the app that calls (DARAJA.md 4.2).
        public_urls_only=config.get("APP_ENV") == "production",
        sms_callback_base=f"{base.rstrip('/')}/hooks/sms/{token}" if token and base else None,
        sms_shortcode=str(config.get("SMS_SHORTCODE") or ""))


def get_emulator(app: Flask) -> Emulator:
    return app.extensions["emulator"]
