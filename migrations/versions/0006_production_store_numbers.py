"""a production store (head office) number belongs to one merchant

A Till's C2B URLs are registered for its store number and its callbacks carry it, so two
merchants sharing one would take each other's payments. The same merchant may put several
tills under its own head office, hence an exclusion constraint (equal number, different
merchant) rather than a unique index. PostgreSQL only; SQLite (make run) has the service
check alone.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

NAME = 'ex_mpesa_channels_production_store_number'


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('CREATE EXTENSION IF NOT EXISTS btree_gist')
    op.create_exclude_constraint(
        NAME, 'mpesa_channels', ('store_number', '='), ('merchant_id', '<>'), using='gist',
        where=sa.text("environment = 'production' AND archived_at IS NULL"))


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_constraint(NAME, 'mpesa_channels', type_='exclude')
