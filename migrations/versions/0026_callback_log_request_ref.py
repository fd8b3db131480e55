"""callback_log.request_ref; a partial index of pending async requests

`callback_log.request_ref`: the request id a callback's URL named (`/result/<kind>/<id>`,
`/stk/<id>`), so replaying a kept async result finds a request Safaricom's ids cannot (a
reversal whose worker died before it recorded them). `ix_async_requests_pending`: beat's
sweep for requests no answer will come for reads only the pending ones.

Revision ID: 0026
Revises: 0022
"""
import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0022'
branch_labels = None
depends_on = None

PENDING = "state = 'pending'"


def upgrade():
    with op.batch_alter_table('callback_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_ref', sa.Integer(), nullable=True))
    with op.batch_alter_table('async_requests', schema=None) as batch_op:
        batch_op.create_index('ix_async_requests_pending', ['id'], unique=False,
                              postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING))


def downgrade():
    with op.batch_alter_table('async_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_async_requests_pending', postgresql_where=sa.text(PENDING),
                            sqlite_where=sa.text(PENDING))
    with op.batch_alter_table('callback_log', schema=None) as batch_op:
        batch_op.drop_column('request_ref')
