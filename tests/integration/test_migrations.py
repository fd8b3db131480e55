"""The migrations build the schema the models describe, on PostgreSQL and on SQLite."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from loyalty.extensions import db
from loyalty.models.base import render_migration_type
from tests.conftest import make_test_app


def _differences(connection):
    context = MigrationContext.configure(connection, opts={
        "compare_type": True, "render_item": render_migration_type})
    return compare_metadata(context, db.metadata)


def test_models_and_migrations_agree_on_postgresql(app):
    with app.app_context(), db.engine.connect() as connection:
        assert _differences(connection) == []


def test_migrations_run_on_sqlite_for_make_run(tmp_path, redis_prefix):
    app = make_test_app(f"sqlite:///{tmp_path / 'dev.sqlite3'}", redis_prefix)
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            assert {"merchants", "api_keys", "loyalty_programs", "alembic_version"} <= tables
            assert _differences(connection) == []
