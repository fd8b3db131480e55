"""Hand-written SQL, in one reviewed package.

ORM statements are scoped to the current merchant by tenancy.py; nothing here is, so every
statement in this package names its tenant itself:

- `statements.Statement` wraps each fixed statement with the parameter that carries
  `merchant_id` (one value, or one per row for the set-wise `unnest()` statements) and
  refuses to run without it (`TenantNotSet`). The few that read every merchant's rows say
  why in their docstring and run only inside `tenancy.all_merchants()`, as the ORM's
  bypass does. tests/integration/test_db_statements.py runs every one without its tenant.
- `inserts.insert_ignore` builds a model's `INSERT … ON CONFLICT DO NOTHING` once per shape
  and always sets `merchant_id` (ORM events do not see Core INSERTs).
- `alone.execute_alone` runs a statement that is a whole unit of work in autocommit, on a
  pool of its own; `driver.DriverInsert` runs the callback's INSERT on psycopg directly.
- By subject: `crediting` (the set-wise batch), `sms` (the outbox), `channels` (the
  callback route), and `ddl` (partial-index conditions for the models).

This file imports nothing, so that models can use `ddl` without an import circle.
"""
