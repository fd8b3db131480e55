"""callback_log says why a body is kept (outcome) and how big it was (body_bytes)

A refused source address keeps only the first 4 KiB of its body, so the size as sent is
recorded beside it. Rows from before get an outcome from their status code.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OUTCOMES = ('rejected', 'refused_ip', 'result', 'store_failed', 'unknown_token')


def upgrade():
    with op.batch_alter_table('callback_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('body_bytes', sa.Integer(), nullable=True))
    log = sa.table('callback_log', sa.column('outcome', sa.String), sa.column('status_code', sa.Integer))
    op.execute(log.update().values(outcome=sa.case(
        (log.c.status_code == 404, 'unknown_token'),
        (log.c.status_code == 403, 'refused_ip'),
        (log.c.status_code == 200, 'result'),
        else_='rejected')))
    with op.batch_alter_table('callback_log', schema=None) as batch_op:
        batch_op.alter_column('outcome', existing_type=sa.String(length=20), nullable=False)
        batch_op.create_check_constraint(
            op.f('ck_callback_log_callbackoutcome'),
            'outcome IN (' + ', '.join(f"'{value}'" for value in OUTCOMES) + ')')


def downgrade():
    with op.batch_alter_table('callback_log', schema=None) as batch_op:
        batch_op.drop_constraint('ck_callback_log_callbackoutcome', type_='check')
        batch_op.drop_column('body_bytes')
        batch_op.drop_column('outcome')
