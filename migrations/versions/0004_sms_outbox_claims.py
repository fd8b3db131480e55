"""sms outbox: claims, so the sweep and a redelivered task never send one message twice

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_sms_messages_queued', ['updated_at'], unique=False,
                              postgresql_where=sa.text("status = 'queued'"),
                              sqlite_where=sa.text("status = 'queued'"))


def downgrade():
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_messages_queued', postgresql_where=sa.text("status = 'queued'"),
                            sqlite_where=sa.text("status = 'queued'"))
        batch_op.drop_column('claimed_until')
