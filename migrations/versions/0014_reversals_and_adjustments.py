"""reversals with claw-back, and adjustments

Payments gain the status `reversed` and `reversed_amount`; `reversals` records each reversal
asked of Safaricom or recorded by the merchant (at most one that is not failed per
payment); `adjustments` are points changed by hand, idempotent like redemptions, with their
ledger entries linked by `adjustment_id`; programs gain `sms_on_reversal`. Both new tables
are tenant tables: they get 0013's row-level policy (created, row security left off).

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

# 0013's policy, as it was written there (a migration keeps its own copy).
POLICY = ("(SELECT current_setting('app.all_merchants', true)) = 'on' "
          "OR merchant_id = (SELECT NULLIF(current_setting('app.merchant_id', true), '')::integer)")

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

# New tenant tables: each gets 0013's policy, inert until `flask row-security on`.
TENANT_TABLES = ('reversals', 'adjustments')

STATUSES = ('received', 'credited', 'unattributed', 'skipped', 'failed')


def _status_check(batch_op, values):
    batch_op.drop_constraint(op.f('ck_payments_paymentstatus'), type_='check')
    batch_op.create_check_constraint(
        op.f('ck_payments_paymentstatus'),
        sa.text("status IN (%s)" % ", ".join(f"'{v}'" for v in values)))


def upgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        _status_check(batch_op, STATUSES + ('reversed',))
        batch_op.add_column(sa.Column('reversed_amount', sa.Numeric(precision=14, scale=2),
                                      nullable=True))

    with op.batch_alter_table('loyalty_programs', schema=None) as batch_op:
        # The default only fills the existing rows; the model sets the value from now on.
        batch_op.add_column(sa.Column('sms_on_reversal', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('loyalty_programs', schema=None) as batch_op:
        batch_op.alter_column('sms_on_reversal', server_default=None)

    op.create_table('reversals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.Enum('mpesa', 'manual', name='reversalmethod', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('state', sa.Enum('requested', 'done', 'failed', name='reversalstate', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('reason', sa.String(length=100), nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('stamps', sa.Integer(), nullable=False),
    sa.Column('result_code', sa.String(length=20), nullable=True),
    sa.Column('result_desc', sa.Text(), nullable=True),
    sa.Column('originator_conversation_id', sa.String(length=64), nullable=True),
    sa.Column('conversation_id', sa.String(length=64), nullable=True),
    sa.Column('receipt', sa.String(length=32), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_reversals_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_reversals_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reversals')),
    sa.UniqueConstraint('merchant_id', 'idempotency_key', name=op.f('uq_reversals_merchant_id_idempotency_key'))
    )
    with op.batch_alter_table('reversals', schema=None) as batch_op:
        batch_op.create_index('ix_reversals_conversation_id', ['conversation_id'], unique=False)
        batch_op.create_index('ix_reversals_originator_conversation_id',
                              ['originator_conversation_id'], unique=False)
        batch_op.create_index('uq_reversals_payment_open', ['payment_id'], unique=True,
                              postgresql_where=sa.text("state <> 'failed'"),
                              sqlite_where=sa.text("state <> 'failed'"))

    op.create_table('adjustments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_adjustments_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_adjustments_merchant_id_merchants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['program_id'], ['loyalty_programs.id'], name=op.f('fk_adjustments_program_id_loyalty_programs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adjustments')),
    sa.UniqueConstraint('merchant_id', 'idempotency_key', name=op.f('uq_adjustments_merchant_id_idempotency_key'))
    )

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adjustment_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_ledger_entries_adjustment_id_adjustments'),
                                    'adjustments', ['adjustment_id'], ['id'])

    if op.get_bind().dialect.name == 'postgresql':
        for table in TENANT_TABLES:
            op.execute(f'CREATE POLICY tenant_isolation ON {table} USING ({POLICY})')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in TENANT_TABLES:
            op.execute(f'ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY')
            op.execute(f'ALTER TABLE {table} DISABLE ROW LEVEL SECURITY')
            op.execute(f'DROP POLICY tenant_isolation ON {table}')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_ledger_entries_adjustment_id_adjustments'),
                                 type_='foreignkey')
        batch_op.drop_column('adjustment_id')
    op.execute("DELETE FROM ledger_entries WHERE kind IN ('reverse', 'adjust')")
    op.drop_table('adjustments')
    with op.batch_alter_table('reversals', schema=None) as batch_op:
        batch_op.drop_index('uq_reversals_payment_open', postgresql_where=sa.text("state <> 'failed'"),
                            sqlite_where=sa.text("state <> 'failed'"))
        batch_op.drop_index('ix_reversals_originator_conversation_id')
        batch_op.drop_index('ix_reversals_conversation_id')
    op.drop_table('reversals')
    with op.batch_alter_table('loyalty_programs', schema=None) as batch_op:
        batch_op.drop_column('sms_on_reversal')
    # A reversed payment was credited before: it goes back to that status.
    op.execute("UPDATE payments SET status = 'credited' WHERE status = 'reversed'")
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('reversed_amount')
        _status_check(batch_op, STATUSES)
