"""SMS delivery reports, held promotional texts, merchant keywords, stamp rewards

Texts gain the status `delivered`, the `cost` Africa's Talking reported, the delivery
report's `delivered_at` and `failure_reason`, and `not_before` (a promotional text held
until its window opens); delivery reports find a text by its provider id (partial index).
Merchants gain `sms_keyword` (STOP <keyword>, unique). Programs gain `reward_template`;
balances count `rewards_redeemed`; a redemption may hand over `rewards` instead of points.

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

SMS_STATUSES = ('queued', 'sent', 'failed', 'skipped', 'cancelled')
SKIP_REASONS = ('opted_out', 'masked', 'sandbox', 'quota', 'link')


def _skip_reason_check(batch_op, values):
    batch_op.drop_constraint(op.f('ck_sms_messages_skipreason'), type_='check')
    batch_op.create_check_constraint(
        op.f('ck_sms_messages_skipreason'),
        sa.text("reason IN (%s)" % ", ".join(f"'{v}'" for v in values)))


def _sms_status_check(batch_op, values):
    batch_op.drop_constraint(op.f('ck_sms_messages_smsstatus'), type_='check')
    batch_op.create_check_constraint(
        op.f('ck_sms_messages_smsstatus'),
        sa.text("status IN (%s)" % ", ".join(f"'{v}'" for v in values)))


def upgrade():
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        _sms_status_check(batch_op, SMS_STATUSES + ('delivered',))
        # Promotional texts refused for want of consent, or to a hashed payer.
        _skip_reason_check(batch_op, SKIP_REASONS + ('no_consent', 'hashed'))
        batch_op.add_column(sa.Column('cost', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failure_reason', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('not_before', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_sms_messages_provider_message_id', ['provider_message_id'],
                              unique=False,
                              postgresql_where=sa.text('provider_message_id IS NOT NULL'),
                              sqlite_where=sa.text('provider_message_id IS NOT NULL'))
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_keyword', sa.String(length=20), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_merchants_sms_keyword'), ['sms_keyword'])
    with op.batch_alter_table('loyalty_programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reward_template', sa.Text(), nullable=True))
    # Server defaults kept: the crediting batch's set-wise INSERT does not name them.
    with op.batch_alter_table('balances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rewards_redeemed', sa.Integer(), server_default='0',
                                      nullable=False))
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rewards', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_column('rewards')
    with op.batch_alter_table('balances', schema=None) as batch_op:
        batch_op.drop_column('rewards_redeemed')
    with op.batch_alter_table('loyalty_programs', schema=None) as batch_op:
        batch_op.drop_column('reward_template')
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_merchants_sms_keyword'), type_='unique')
        batch_op.drop_column('sms_keyword')
    op.execute("UPDATE sms_messages SET status = 'sent' WHERE status = 'delivered'")
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_messages_provider_message_id',
                            postgresql_where=sa.text('provider_message_id IS NOT NULL'),
                            sqlite_where=sa.text('provider_message_id IS NOT NULL'))
        batch_op.drop_column('not_before')
        batch_op.drop_column('failure_reason')
        batch_op.drop_column('delivered_at')
        batch_op.drop_column('cost')
        _sms_status_check(batch_op, SMS_STATUSES)
    op.execute("UPDATE sms_messages SET reason = 'opted_out' WHERE reason IN ('no_consent', 'hashed')")
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        _skip_reason_check(batch_op, SKIP_REASONS)
