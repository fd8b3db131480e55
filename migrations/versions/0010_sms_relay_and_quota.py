"""no SMS relay: merchants' SMS test numbers, the reason a text was skipped, and the index
the daily SMS quota counts with

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

REASONS = ('opted_out', 'masked', 'sandbox', 'quota', 'link')


def upgrade():
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_test_numbers', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.Enum(*REASONS, name='skipreason',
                                                        native_enum=False, create_constraint=True,
                                                        length=20), nullable=True))
        batch_op.create_index('ix_sms_messages_counted', ['merchant_id', 'created_at'],
                              unique=False, postgresql_where=sa.text("status <> 'skipped'"),
                              sqlite_where=sa.text("status <> 'skipped'"))
    # The texts skipped before reasons were recorded, by the sentence they were kept with.
    op.execute("UPDATE sms_messages SET reason = 'opted_out' "
               "WHERE status = 'skipped' AND error LIKE '%opted out%'")
    op.execute("UPDATE sms_messages SET reason = 'masked' "
               "WHERE status = 'skipped' AND recipient_form = 'masked'")


def downgrade():
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_messages_counted',
                            postgresql_where=sa.text("status <> 'skipped'"),
                            sqlite_where=sa.text("status <> 'skipped'"))
        batch_op.drop_column('reason')
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('sms_test_numbers')
