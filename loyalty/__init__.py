"""M-Pesa Loyalty: the application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from flask import Flask


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config, extensions, tenancy, Celery, blueprints, errors, CLI."""
    import loyalty.models  # noqa: F401  (the whole schema, for Alembic and the mappers)
    from loyalty import cli, crypto, logging_setup
    from loyalty.celery_app import celery_init_app
    from loyalty.config import load_config
    from loyalty.errors import register_error_handlers
    from loyalty.extensions import api, csrf, db, login_manager, migrate
    from loyalty.models.base import render_migration_type

    instance = Path(__file__).resolve().parent.parent / "instance"
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True)
    logging_setup.init_app(app)
    app.config.update(load_config(instance_path=instance, overrides=overrides))

    crypto.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"),
                     render_as_batch=True, compare_type=True,
                     render_item=render_migration_type)
    login_manager.init_app(app)
    csrf.init_app(app)
    api.init_app(app)
    celery_init_app(app)

    register_blueprints(app)
    register_error_handlers(app)
    cli.init_app(app)
    return app


def register_blueprints(app: Flask) -> None:
    from loyalty.api import api_keys, docs, health, merchants
    from loyalty.api.base import init_auth
    from loyalty.web.auth import init_login
    from loyalty.extensions import api, csrf

    app.register_blueprint(health.bp)
    app.register_blueprint(docs.bp)
    for module in (merchants, api_keys):
        api.register_blueprint(module.blp)
    # The JSON API authenticates with API keys, not cookies: CSRF does not apply.
    for name in ("merchants", "api_keys"):
        csrf.exempt(app.blueprints[name])
    init_auth(app)
    init_login(app)
