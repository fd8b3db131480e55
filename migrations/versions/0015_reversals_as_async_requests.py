"""reversals answered through async_requests

A Reversal API request is an async request like Account Balance and Transaction Status: it
is recorded (`reversal_id`) when the merchant asks, its ResultURL names that row, and its
Safaricom ids live there, no longer on `reversals`. `sent_at` is the worker's claim, made
and committed before it calls Safaricom, so a redelivered task never sends a second request.
Every reversal asked of M-Pesa before this revision gets its row (the ids it holds, its
state), so a result still on its way is matched by its ids.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# A reversal's state as its async request's.
COPY = """
INSERT INTO async_requests (merchant_id, channel_id, kind, originator_conversation_id,
    conversation_id, payment_id, reversal_id, state, result_code, result_desc, finished_at,
    sent_at, created_at, updated_at)
SELECT r.merchant_id, p.channel_id, 'reversal', r.originator_conversation_id,
    r.conversation_id, r.payment_id, r.id,
    CASE r.state WHEN 'requested' THEN 'pending' WHEN 'done' THEN 'done' ELSE 'failed' END,
    r.result_code, r.result_desc, r.completed_at,
    CASE WHEN r.conversation_id IS NOT NULL OR r.originator_conversation_id IS NOT NULL
         THEN r.updated_at END,
    r.created_at, r.updated_at
FROM reversals r JOIN payments p ON p.id = r.payment_id
WHERE r.method = 'mpesa'
"""

COPY_BACK = """
UPDATE reversals SET
    originator_conversation_id = (SELECT a.originator_conversation_id FROM async_requests a
                                  WHERE a.reversal_id = reversals.id),
    conversation_id = (SELECT a.conversation_id FROM async_requests a
                       WHERE a.reversal_id = reversals.id)
"""


def upgrade():
    with op.batch_alter_table('async_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reversal_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_async_requests_reversal_id_reversals'),
                                    'reversals', ['reversal_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_async_requests_reversal_id'), ['reversal_id'],
                              unique=False)

    op.execute(COPY)

    with op.batch_alter_table('reversals', schema=None) as batch_op:
        batch_op.drop_index('ix_reversals_originator_conversation_id')
        batch_op.drop_index('ix_reversals_conversation_id')
        batch_op.drop_column('conversation_id')
        batch_op.drop_column('originator_conversation_id')


def downgrade():
    with op.batch_alter_table('reversals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('originator_conversation_id', sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('conversation_id', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_reversals_conversation_id', ['conversation_id'], unique=False)
        batch_op.create_index('ix_reversals_originator_conversation_id',
                              ['originator_conversation_id'], unique=False)

    op.execute(COPY_BACK)
    op.execute("DELETE FROM async_requests WHERE kind = 'reversal'")

    with op.batch_alter_table('async_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_async_requests_reversal_id'))
        batch_op.drop_constraint(batch_op.f('fk_async_requests_reversal_id_reversals'),
                                 type_='foreignkey')
        batch_op.drop_column('sent_at')
        batch_op.drop_column('reversal_id')
