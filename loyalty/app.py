"""M-Pesa Loyalty: the application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import redis
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import loyalty.models  # noqa: F401  (the whole schema, for Alembic and the mappers)
from loyalty import cli, crypto, daraja, emulator, hooks, logging_setup, ratelimits, web
from loyalty.api import (
    api_keys,
    branding,
    callback_log,
    channels,
    customers,
    docs,
    experiments,
    health,
    input_guard,
    merchants,
    metrics,
    openapi,
    password_reset,
    payment_requests,
    payments,
    programs,
    reconciliation,
    setup_templates,
    webhooks,
)
from loyalty.api import errors as api_errors
from loyalty.api.base import api, init_auth
from loyalty.celery_app import celery_init_app
from loyalty.config import load_config
from loyalty.db import row_security
from loyalty.extensions import csrf, db, login_manager, migrate
from loyalty.hooks.fast import FastConfirmations
from loyalty.models.base import render_migration_type

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: Mapping[str, Any] | None = None, *, hooks_only: bool = False) -> Flask:
    """Build the app: config, extensions, tenancy, Celery, blueprints, errors, CLI.

    `hooks_only` builds the Procfile's `hooks` process: Safaricom's callbacks and the
    health probes, nothing else, so no API or web request can ever take its threads."""
    instance = ROOT / "instance"
    # Named "loyalty": the package holds the templates and names the app's logger.
    app = Flask("loyalty", instance_path=str(instance), instance_relative_config=True)
    logging_setup.init_app(app)
    app.config.update(load_config(instance_path=instance, overrides=overrides))
    if app.config["PROXY_FIX_X_FOR"]:
        # Behind a proxy, the client address (for the callback IP policy) is in X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"],
                                x_proto=1, x_host=1)

    crypto.init_app(app)
    daraja.init_app(app)
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            row_security.install(engine, enforce=app.config["DB_ROW_SECURITY"])
    migrate.init_app(app, db, directory=str(ROOT / "migrations"),
                     render_as_batch=True, compare_type=True,
                     render_item=render_migration_type)
    login_manager.init_app(app)
    csrf.init_app(app)
    if not hooks_only:
        api.init_app(app)  # the OpenAPI document and its routes
    # Odd input is a 4xx, never a 500: int URL parts, NUL characters, strict JSON.
    input_guard.init_app(app, documented=not hooks_only)
    if not hooks_only:
        openapi.init_app(app, api)  # errors, operationIds, servers, types as they travel
    celery_init_app(app)
    if app.config["REDIS_URL"]:
        # One shared client for the app's own Redis use (nudges, caches); Celery has its own.
        app.extensions["redis"] = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=1, socket_timeout=2)
    if not hooks_only:  # the hooks process limits nothing: Safaricom must always get in
        # Before the blueprints: its check runs ahead of the API's authentication.
        ratelimits.init_app(app, api)

    register_blueprints(app, hooks_only=hooks_only)
    # JSON errors for every path; the web UI's blueprint has its own (web/errors.py).
    api_errors.init_app(app)
    # In front of everything: the C2B confirmation's common case (hooks/fast.py).
    app.wsgi_app = FastConfirmations(app, app.wsgi_app)
    cli.init_app(app)
    return app


def register_blueprints(app: Flask, *, hooks_only: bool = False) -> None:
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)  # off (404) unless METRICS_TOKEN is set
    app.register_blueprint(hooks.bp)
    csrf.exempt(hooks.bp)  # Safaricom posts JSON; the opaque token is the credential
    app.register_blueprint(hooks.sms_bp)
    csrf.exempt(hooks.sms_bp)  # Africa's Talking posts forms; the path secret is the credential
    if hooks_only:
        return
    app.register_blueprint(docs.bp)
    emulator.init_app(app)  # only with DARAJA_EMULATOR=1, never in production
    blueprints = (merchants.blp, password_reset.blp, api_keys.blp, programs.blp, channels.blp,
                  customers.blp, payments.blp, payments.analytics_blp, payment_requests.blp,
                  callback_log.blp, reconciliation.blp, webhooks.blp,
                  setup_templates.blp, experiments.blp,
                  branding.blp)  # white-label (DESIGN.md 13)
    for blueprint in blueprints:
        ratelimits.api_key(blueprint)  # every call counts against its API key
        api.register_blueprint(blueprint)
        # The JSON API authenticates with API keys, not cookies: CSRF does not apply.
        csrf.exempt(app.blueprints[blueprint.name])
    init_auth(app)
    web.init_app(app)
