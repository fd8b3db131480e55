"""customers, payments, ledger, sms outbox, callback log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 06:46:28.088375

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=12), nullable=True),
    sa.Column('phone_hash', sa.String(length=64), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('middle_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=True),
    sa.Column('sms_opt_out', sa.Boolean(), nullable=False),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_customers_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('merchant_id', 'phone_hash', name=op.f('uq_customers_merchant_id_phone_hash'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('balances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('lifetime_points', sa.Integer(), nullable=False),
    sa.Column('stamps', sa.Integer(), nullable=False),
    sa.Column('rewards_earned', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_balances_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_balances_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['program_id'], ['loyalty_programs.id'], name=op.f('fk_balances_program_id_loyalty_programs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_balances')),
    sa.UniqueConstraint('merchant_id', 'customer_id', 'program_id', name=op.f('uq_balances_merchant_id_customer_id_program_id'))
    )
    with op.batch_alter_table('balances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_balances_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_balances_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('callback_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=True),
    sa.Column('merchant_id', sa.Integer(), nullable=True),
    sa.Column('channel_id', sa.Integer(), nullable=True),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['channel_id'], ['mpesa_channels.id'], name=op.f('fk_callback_log_channel_id_mpesa_channels'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_callback_log_merchant_id_merchants'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_log'))
    )
    with op.batch_alter_table('callback_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_log_received_at'), ['received_at'], unique=False)

    op.create_table('payment_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=12), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('account_reference', sa.String(length=12), nullable=False),
    sa.Column('checkout_request_id', sa.String(length=64), nullable=True),
    sa.Column('merchant_request_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.Enum('pending', 'succeeded', 'failed', name='paymentrequeststatus', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('result_code', sa.String(length=20), nullable=True),
    sa.Column('result_desc', sa.Text(), nullable=True),
    sa.Column('receipt', sa.String(length=32), nullable=True),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['mpesa_channels.id'], name=op.f('fk_payment_requests_channel_id_mpesa_channels')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_payment_requests_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_requests')),
    sa.UniqueConstraint('checkout_request_id', name=op.f('uq_payment_requests_checkout_request_id'))
    )
    with op.batch_alter_table('payment_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_requests_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('trans_id', sa.String(length=32), nullable=False),
    sa.Column('source', sa.Enum('c2b', 'stk', name='paymentsource', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('trans_type', sa.String(length=60), nullable=True),
    sa.Column('trans_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('bill_ref', sa.String(length=40), nullable=True),
    sa.Column('msisdn', sa.String(length=80), nullable=True),
    sa.Column('msisdn_form', sa.String(length=10), nullable=True),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('middle_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('program_id', sa.Integer(), nullable=True),
    sa.Column('matched_pattern', sa.String(length=40), nullable=True),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('received', 'credited', 'unattributed', 'skipped', 'failed', name='paymentstatus', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('credited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['mpesa_channels.id'], name=op.f('fk_payments_channel_id_mpesa_channels')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_payments_customer_id_customers')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_payments_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['program_id'], ['loyalty_programs.id'], name=op.f('fk_payments_program_id_loyalty_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('merchant_id', 'trans_id', name=op.f('uq_payments_merchant_id_trans_id'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index('ix_payments_channel_time', ['channel_id', 'trans_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index('ix_payments_received', ['id'], unique=False, postgresql_where=sa.text("status = 'received'"), sqlite_where=sa.text("status = 'received'"))

    op.create_table('redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_redemptions_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_redemptions_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['program_id'], ['loyalty_programs.id'], name=op.f('fk_redemptions_program_id_loyalty_programs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemptions')),
    sa.UniqueConstraint('merchant_id', 'idempotency_key', name=op.f('uq_redemptions_merchant_id_idempotency_key'))
    )
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redemptions_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('earn', 'stamp', 'redeem', 'expire', 'reverse', 'adjust', name='entrykind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('stamps', sa.Integer(), nullable=False),
    sa.Column('remaining', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('redemption_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_ledger_entries_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_ledger_entries_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_ledger_entries_payment_id_payments')),
    sa.ForeignKeyConstraint(['program_id'], ['loyalty_programs.id'], name=op.f('fk_ledger_entries_program_id_loyalty_programs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], name=op.f('fk_ledger_entries_redemption_id_redemptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_customer_program', ['customer_id', 'program_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index('ix_ledger_entries_open_earns', ['program_id', 'created_at'], unique=False, postgresql_where=sa.text('remaining > 0'), sqlite_where=sa.text('remaining > 0'))
        batch_op.create_index('uq_ledger_entries_payment_kind', ['payment_id', 'kind'], unique=True, postgresql_where=sa.text('payment_id IS NOT NULL'), sqlite_where=sa.text('payment_id IS NOT NULL'))

    op.create_table('sms_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sa.String(length=30), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=True),
    sa.Column('recipient_form', sa.String(length=10), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('encoding', sa.String(length=10), nullable=False),
    sa.Column('segments', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('queued', 'sent', 'failed', 'skipped', name='smsstatus', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('provider_message_id', sa.String(length=100), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_sms_messages_customer_id_customers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_sms_messages_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_sms_messages_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_messages'))
    )
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_messages_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index('uq_sms_messages_payment_purpose', ['payment_id', 'purpose'], unique=True, postgresql_where=sa.text('payment_id IS NOT NULL'), sqlite_where=sa.text('payment_id IS NOT NULL'))




def downgrade():

    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_index('uq_sms_messages_payment_purpose', postgresql_where=sa.text('payment_id IS NOT NULL'), sqlite_where=sa.text('payment_id IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_sms_messages_merchant_id'))

    op.drop_table('sms_messages')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_entries_payment_kind', postgresql_where=sa.text('payment_id IS NOT NULL'), sqlite_where=sa.text('payment_id IS NOT NULL'))
        batch_op.drop_index('ix_ledger_entries_open_earns', postgresql_where=sa.text('remaining > 0'), sqlite_where=sa.text('remaining > 0'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_merchant_id'))
        batch_op.drop_index('ix_ledger_entries_customer_program')

    op.drop_table('ledger_entries')
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redemptions_merchant_id'))

    op.drop_table('redemptions')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_received', postgresql_where=sa.text("status = 'received'"), sqlite_where=sa.text("status = 'received'"))
        batch_op.drop_index(batch_op.f('ix_payments_merchant_id'))
        batch_op.drop_index(batch_op.f('ix_payments_customer_id'))
        batch_op.drop_index('ix_payments_channel_time')

    op.drop_table('payments')
    with op.batch_alter_table('payment_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_requests_merchant_id'))

    op.drop_table('payment_requests')
    with op.batch_alter_table('callback_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_log_received_at'))

    op.drop_table('callback_log')
    with op.batch_alter_table('balances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_balances_merchant_id'))
        batch_op.drop_index(batch_op.f('ix_balances_customer_id'))

    op.drop_table('balances')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_merchant_id'))

    op.drop_table('customers')

