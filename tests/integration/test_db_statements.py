"""Every hand-written statement (loyalty/db/) names its merchant, and refuses to run
without one: tenancy.py guards ORM statements, nothing guards these but this check."""

import importlib
import pkgutil
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql

import loyalty.db
from loyalty.db import channels, crediting, sms
from loyalty.db.alone import execute_alone
from loyalty.db.inserts import insert_ignore, insert_ignore_alone
from loyalty.db.statements import ANY_OF, ONE, PER_ROW, REGISTRY, Statement, for_one_large_read
from loyalty.models import Customer, Payment
from loyalty.tenancy import TenantNotSet, all_merchants, tenant_context

MODULES = [importlib.import_module(f"loyalty.db.{m.name}")
           for m in pkgutil.iter_modules(loyalty.db.__path__)]
TENANT_BOUND = [s for s in REGISTRY if s.tenant is not None]
CROSS_TENANT = [s for s in REGISTRY if s.cross_tenant is not None]


def _binds(statement: Statement) -> list[str]:
    """The statement's own parameters (not the anonymous ones of its literals)."""
    compiled = statement.sql.compile(dialect=postgresql.dialect())
    return [name for name, bind in compiled.binds.items()
            if bind.value is None and bind.callable is None and "%" not in name]


def _params(statement: Statement) -> dict:
    """Parameters the statement would accept: two rows, merchant 1 on each."""
    many = statement.form in (PER_ROW, ANY_OF)
    params = {name: [1, 1] if many and name != "now" else 1 for name in _binds(statement)}
    for moment in ("now", "until"):
        if moment in params:
            params[moment] = datetime.now(timezone.utc)
    return params


@pytest.fixture
def executed(db_session):
    """The SQL that reached the database during the test (none, when refused)."""
    seen: list[str] = []
    connection = db_session.connection()
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(connection, "before_cursor_execute", listener)
    yield connection, seen
    event.remove(connection, "before_cursor_execute", listener)


def test_every_statement_in_loyalty_db_is_wrapped_and_registered():
    bare = [f"{module.__name__}.{name}" for module in MODULES
            for name, value in vars(module).items()
            if isinstance(value, sa.Executable) and not name.startswith("__")]
    assert bare == [], "wrap these in db.statements.Statement"
    wrapped = [value for module in MODULES for value in vars(module).values()
               if isinstance(value, Statement)]
    assert sorted(s.name for s in wrapped) == sorted(s.name for s in REGISTRY)
    assert {crediting.PAYMENT_UPDATE, sms.CLAIM, channels.ROUTE} <= set(REGISTRY)


@pytest.mark.parametrize("statement", TENANT_BOUND, ids=lambda s: s.name)
def test_the_tenant_parameter_is_one_the_statement_binds(statement):
    assert statement.tenant in _binds(statement)
    assert statement.__doc__


@pytest.mark.parametrize("statement", TENANT_BOUND, ids=lambda s: s.name)
def test_a_statement_refuses_to_run_without_its_merchant(statement, executed):
    connection, seen = executed
    params = _params(statement)
    assert statement.check(params) is params  # complete: only the tenant is taken away below
    missing = {k: v for k, v in params.items() if k != statement.tenant}
    refused = [missing, {**params, statement.tenant: None}]
    if statement.form != ONE:
        refused += [{**params, statement.tenant: []},
                    {**params, statement.tenant: [1, None]}]
    for bad in refused:
        with pytest.raises(TenantNotSet):
            statement.execute(connection, bad)
    # a merchant per row, or none at all: arrays of another length are refused too
    if statement.form == PER_ROW:
        with pytest.raises(ValueError, match="rows"):
            statement.execute(connection, {**params, statement.tenant: [1, 1, 1]})
    assert seen == []


def test_a_list_of_parameter_sets_needs_the_merchant_in_each(executed):
    connection, seen = executed
    rows = [_params(sms.RECORD), {**_params(sms.RECORD), "m_merchant": None}]
    with pytest.raises(TenantNotSet):
        sms.RECORD.execute(connection, rows)
    assert seen == []


@pytest.mark.parametrize("statement", CROSS_TENANT, ids=lambda s: s.name)
def test_a_cross_tenant_statement_says_why_and_runs_only_inside_all_merchants(statement,
                                                                              executed):
    connection, seen = executed
    assert "Cross-tenant: " in statement.__doc__ and len(statement.cross_tenant) > 40
    params = {name: 1 if name == "limit" else "no-such-token" for name in _binds(statement)}
    for moment in ("now", "until"):
        if moment in params:
            params[moment] = datetime.now(timezone.utc)
    if "skip" in params:  # merchants left out (an expanding list)
        params["skip"] = [1]
    if "every_bucket" in params:  # the route table's buckets of channel ids
        params.update(every_bucket=False, buckets=[0])
    with tenant_context(1), pytest.raises(TenantNotSet, match="all_merchants"):
        statement.execute(connection, params)  # a merchant set is not enough
    assert seen == []
    with all_merchants():
        assert statement.execute(connection, params).all() == []
    assert len(seen) == 1


def test_a_unit_of_work_of_one_statement_is_refused_without_its_merchant(executed):
    connection, seen = executed
    with pytest.raises(TenantNotSet):
        execute_alone(sms.CLAIM, {"c_ids": [1], "c_now": datetime.now(timezone.utc),
                                  "c_until": datetime.now(timezone.utc)}, rows=True)
    with pytest.raises(TenantNotSet):
        execute_alone(channels.ROUTE, {"token": "no-such-token"}, rows=True)
    assert seen == []


def test_inserts_need_a_current_or_explicit_merchant(executed):
    connection, seen = executed
    with pytest.raises(TenantNotSet):
        insert_ignore(Customer, {"phone_hash": "x", "sms_opt_out": False},
                      ["merchant_id", "phone_hash"])
    with pytest.raises(TenantNotSet):
        insert_ignore_alone(Payment, {"trans_id": "NOMERCHANT"}, ["merchant_id", "trans_id"],
                            merchant_id=None)
    assert seen == []


def test_a_statement_must_bind_its_tenant_or_say_why_not():
    with pytest.raises(ValueError):
        Statement("x.unbound", sa.select(1), doc="neither")
    with pytest.raises(ValueError):
        Statement("x.both", sa.select(1), doc="both", tenant="merchant_id",
                  cross_tenant="a reason")
    assert REGISTRY[-1].name != "x.both"



def test_a_large_reads_settings_end_with_its_transaction(app):
    """The back-test and an experiment's results turn JIT off (and may raise work_mem) for
    their own transaction only: the pooled connection serves the next request as before."""
    from sqlalchemy.orm import Session

    from loyalty.extensions import db

    def settings(runner) -> tuple[str, str]:
        return (runner.execute(sa.text("SHOW jit")).scalar(),
                runner.execute(sa.text("SHOW work_mem")).scalar())

    with app.app_context(), db.engine.connect() as connection:
        before = settings(connection)
        connection.commit()
        assert before[0] == "on" and before[1] != "64MB"
        with Session(bind=connection) as session:
            for_one_large_read(session, work_mem="64MB")
            assert settings(session) == ("off", "64MB")
            session.commit()
        assert settings(connection) == before
        connection.commit()
        with Session(bind=connection) as session:
            for_one_large_read(session)
            assert settings(session) == ("off", before[1])
            session.rollback()
        assert settings(connection) == before
