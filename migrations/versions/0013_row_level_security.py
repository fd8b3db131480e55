"""row-level security policies on every tenant table, shipped inert

One policy per tenant table: a row is seen, changed or written only by a statement bound to
its merchant (`app.merchant_id`) or run across merchants (`app.all_merchants`), both set by
the app with DB_ROW_SECURITY=on (loyalty/db/row_security.py). Row security itself is NOT
enabled on the tables: it is not the default, because it cost more than 5% on the crediting
path (bench/README.md). `flask row-security on` turns it on, once every process runs with
DB_ROW_SECURITY=on. Nothing on SQLite (`make run`).

Revision ID: 0013
Revises: 0012
"""
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# Every TenantScoped table (tests/integration/test_row_security.py checks the list).
TENANT_TABLES = (
    'api_keys', 'async_requests', 'balances', 'customers', 'ledger_entries', 'loyalty_programs',
    'mpesa_channels', 'password_resets', 'payment_requests', 'payments', 'reconciliation_runs',
    'redemptions',
    'sms_messages',
)
# Each setting read once per statement (the SELECT), not once per row.
POLICY = ("(SELECT current_setting('app.all_merchants', true)) = 'on' "
          "OR merchant_id = (SELECT NULLIF(current_setting('app.merchant_id', true), '')::integer)")


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in TENANT_TABLES:
        op.execute(f'CREATE POLICY tenant_isolation ON {table} USING ({POLICY})')


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in TENANT_TABLES:
        op.execute(f'ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY')
        op.execute(f'ALTER TABLE {table} DISABLE ROW LEVEL SECURITY')
        op.execute(f'DROP POLICY tenant_isolation ON {table}')
