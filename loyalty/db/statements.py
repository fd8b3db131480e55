"""`Statement`: a fixed, hand-written statement that names the merchant of its rows.

tenancy.py adds `merchant_id = current` to ORM statements; a Core statement or one of SQL
text sees none of that, so each one here is wrapped with the parameter that carries the
merchant and checked before it runs: a missing or empty merchant raises `TenantNotSet`
instead of reaching the database. Checking is a dictionary lookup (and, for a batch, one
pass over its merchant array), so the hot paths pay nothing measurable for it.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import sqlalchemy as sa

from loyalty.tenancy import TenantNotSet, all_merchants, bypassing, tenant_context

ONE = "one"          # one merchant for the whole statement
PER_ROW = "per_row"  # one merchant per row: an array expanded with unnest(), beside the
                     # other columns' arrays, which must all be as long
ANY_OF = "any_of"    # the rows of any of these merchants (an IN list)

REGISTRY: list[Statement] = []


class Statement:
    """A statement, what it does (`doc`, its docstring) and how its tenant is bound.

    `tenant` names the parameter holding `merchant_id` (`form`: ONE, PER_ROW or ANY_OF).
    A statement that reads every merchant's rows has no tenant: `cross_tenant` says why
    (it is appended to its docstring), and it runs only inside `tenancy.all_merchants()`,
    the one bypass, so it cannot be used by accident."""

    def __init__(self, name: str, sql: sa.Executable, *, doc: str, tenant: str | None = None,
                 form: str = ONE, cross_tenant: str | None = None) -> None:
        if (tenant is None) == (not cross_tenant):
            raise ValueError(f"{name}: bind the tenant, or say why it reads every merchant")
        if form not in (ONE, PER_ROW, ANY_OF):
            raise ValueError(f"{name}: unknown tenant form {form!r}")
        self.name, self.sql, self.tenant, self.form = name, sql, tenant, form
        self.cross_tenant = cross_tenant
        self.__doc__ = doc if not cross_tenant else f"{doc}\n\nCross-tenant: {cross_tenant}"
        REGISTRY.append(self)

    def __repr__(self) -> str:
        return f"<Statement {self.name}>"

    def check(self, params: dict[str, Any] | list[dict[str, Any]]):
        """The parameters (one set, or a list run at once), once they name the merchant."""
        if self.cross_tenant is not None:
            if not bypassing():
                raise TenantNotSet(f"{self.name} reads every merchant's rows: run it inside "
                                   "all_merchants()")
            return params
        for one in params if isinstance(params, list) else (params,):
            self._check(one)
        return params

    def _check(self, params: dict[str, Any]) -> None:
        value = params.get(self.tenant)
        if self.form == ONE:
            if value is None:
                raise TenantNotSet(f"{self.name} needs {self.tenant!r}, the merchant of its rows")
            return
        if not value or any(m is None for m in value):
            raise TenantNotSet(f"{self.name} needs {self.tenant!r}: a merchant for every row")
        if self.form == PER_ROW:
            for key, other in params.items():
                if isinstance(other, list) and len(other) != len(value):
                    raise ValueError(f"{self.name}: {len(other)} values of {key!r} for "
                                     f"{len(value)} rows")

    def execute(self, connection: sa.Connection, params: dict[str, Any] | list[dict[str, Any]]):
        """Run it on `connection` (its result) once the tenant is checked."""
        with self.running_as(self.check(params)):
            return connection.execute(self.sql, params)

    def running_as(self, params: dict[str, Any] | list[dict[str, Any]]):
        """The tenant context the statement runs in, for row-level security
        (row_security.py), which binds a statement to one merchant or to all. A statement
        of one merchant runs in its caller's context, so the policies check that the two
        agree. A set-wise statement (one merchant per row, or any of a list) runs as its
        one merchant when its rows have only one, else across merchants: its rows name
        theirs, which `check` made sure of."""
        if self.form == ONE or self.cross_tenant is not None or isinstance(params, list):
            return nullcontext()
        merchants = set(params[self.tenant])
        if len(merchants) == 1:
            return tenant_context(merchants.pop())
        return all_merchants()


def for_one_large_read(session, *, work_mem: str | None = None) -> None:
    """Settings for this transaction only, before one aggregate over up to a million rows
    (the back-test, an experiment's results). PostgreSQL compiles a statement it estimates
    as expensive (JIT): the results' joins are estimated at tens of millions of rows and
    compiling them took 480 ms of a 790 ms read, far more than it saved. `work_mem` lets
    per-customer sums stay in memory instead of spilling to disk. Nothing on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        return
    # set_config(…, true) is SET LOCAL with the value bound rather than written into SQL.
    session.execute(sa.text("SELECT set_config('jit', 'off', true), "
                            "set_config('work_mem', coalesce(:work_mem, "
                            "current_setting('work_mem')), true)"), {"work_mem": work_mem})
