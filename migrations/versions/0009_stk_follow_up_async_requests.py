"""STK follow-up (cancelled/expired, the receipt's payment, follow-up steps), async requests
matched to their results, replays of the callback log (and its `duplicate` outcome: a second or late STK callback)

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _status_check(batch_op, values):
    batch_op.drop_constraint(op.f('ck_payment_requests_paymentrequeststatus'), type_='check')
    batch_op.create_check_constraint(
        op.f('ck_payment_requests_paymentrequeststatus'),
        sa.text("status IN (%s)" % ", ".join(f"'{v}'" for v in values)))


OUTCOMES = ('rejected', 'refused_ip', 'result', 'store_failed', 'unknown_token')


def _outcome_check(batch_op, values):
    batch_op.drop_constraint(op.f('ck_callback_log_callbackoutcome'), type_='check')
    batch_op.create_check_constraint(
        op.f('ck_callback_log_callbackoutcome'),
        sa.text("outcome IN (%s)" % ", ".join(f"'{v}'" for v in values)))


def upgrade():
    with op.batch_alter_table('payment_requests', schema=None) as batch_op:
        _status_check(batch_op, ('pending', 'succeeded', 'failed', 'cancelled', 'expired'))
        batch_op.add_column(sa.Column('payment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('query_step', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('receipt_step', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_payment_requests_payment_id_payments'),
                                    'payments', ['payment_id'], ['id'])
        batch_op.create_index('ix_payment_requests_next_check', ['next_check_at'], unique=False,
                              postgresql_where=sa.text('next_check_at IS NOT NULL'),
                              sqlite_where=sa.text('next_check_at IS NOT NULL'))

    with op.batch_alter_table('callback_log', schema=None) as batch_op:
        _outcome_check(batch_op, OUTCOMES + ('duplicate',))
        batch_op.add_column(sa.Column('replayed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('payment_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_callback_log_payment_id_payments'),
                                    'payments', ['payment_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index('ix_callback_log_merchant', ['merchant_id', 'id'], unique=False)

    op.create_table('async_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('balance', 'status', 'reversal', name='asynckind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('originator_conversation_id', sa.String(length=64), nullable=True),
    sa.Column('conversation_id', sa.String(length=64), nullable=True),
    sa.Column('payment_request_id', sa.Integer(), nullable=True),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.Enum('pending', 'done', 'failed', 'timed_out', name='asyncstate', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('result_code', sa.String(length=20), nullable=True),
    sa.Column('result_desc', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['mpesa_channels.id'], name=op.f('fk_async_requests_channel_id_mpesa_channels')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_async_requests_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_async_requests_payment_id_payments')),
    sa.ForeignKeyConstraint(['payment_request_id'], ['payment_requests.id'], name=op.f('fk_async_requests_payment_request_id_payment_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_async_requests'))
    )
    with op.batch_alter_table('async_requests', schema=None) as batch_op:
        batch_op.create_index('ix_async_requests_conversation', ['conversation_id'], unique=False)
        batch_op.create_index('ix_async_requests_originator', ['originator_conversation_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_async_requests_merchant_id'), ['merchant_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_async_requests_payment_id'), ['payment_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_async_requests_payment_request_id'),
                              ['payment_request_id'], unique=False)


def downgrade():
    op.drop_table('async_requests')
    op.execute("UPDATE callback_log SET outcome = 'result' WHERE outcome = 'duplicate'")
    with op.batch_alter_table('callback_log', schema=None) as batch_op:
        _outcome_check(batch_op, OUTCOMES)
        batch_op.drop_index('ix_callback_log_merchant')
        batch_op.drop_constraint(batch_op.f('fk_callback_log_payment_id_payments'),
                                 type_='foreignkey')
        batch_op.drop_column('payment_id')
        batch_op.drop_column('replayed_at')
    op.execute("UPDATE payment_requests SET status = 'failed' "
               "WHERE status IN ('cancelled', 'expired')")
    with op.batch_alter_table('payment_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_requests_next_check')
        batch_op.drop_constraint(batch_op.f('fk_payment_requests_payment_id_payments'),
                                 type_='foreignkey')
        batch_op.drop_column('finished_at')
        batch_op.drop_column('next_check_at')
        batch_op.drop_column('receipt_step')
        batch_op.drop_column('query_step')
        batch_op.drop_column('payment_id')
        _status_check(batch_op, ('pending', 'succeeded', 'failed'))
