"""the daily SMS quota no longer counts a merchant's password-reset texts

The quota counts today's texts over the partial index `ix_sms_messages_counted`; a
password-reset text (purpose `password_reset`) is the merchant's own and has its own rate
limits, so it leaves the count, and the index holds exactly the counted rows again. Only
the index's condition changes; no row does.

Revision ID: 0017
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0015'
branch_labels = None
depends_on = None

BEFORE = "status <> 'skipped'"
AFTER = "status <> 'skipped' AND purpose <> 'password_reset'"


def _rebuild(old: str, new: str) -> None:
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_messages_counted', postgresql_where=sa.text(old),
                            sqlite_where=sa.text(old))
        batch_op.create_index('ix_sms_messages_counted', ['merchant_id', 'created_at'],
                              unique=False, postgresql_where=sa.text(new),
                              sqlite_where=sa.text(new))


def upgrade():
    _rebuild(BEFORE, AFTER)


def downgrade():
    _rebuild(AFTER, BEFORE)
