"""drop merchant_id indexes that a unique constraint leading with merchant_id already covers

Every payment insert and every crediting update maintained both; the unique constraints
(payments, customers, balances, redemptions) serve lookups by merchant on their own.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TABLES = ('payments', 'customers', 'balances', 'redemptions')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_merchant_id'))


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f'ix_{table}_merchant_id'), ['merchant_id'],
                                  unique=False)
