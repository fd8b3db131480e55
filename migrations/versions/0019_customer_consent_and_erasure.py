"""customer consent and erasure

Texts gain the status `cancelled` (queued, then withdrawn) and their `kind`
(transactional or promotional). Customers gain `marketing_consent` (express consent to offers, never implied by paying) and
`erased_at` (set by erasure, which also replaces the phone hash with a tombstone);
`consent_events` records every change of consent with its time and source. A tenant
table: it gets 0013's row-level policy (created, row security left off).

Revision ID: 0019
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

# 0013's policy, as it was written there (a migration keeps its own copy).
POLICY = ("(SELECT current_setting('app.all_merchants', true)) = 'on' "
          "OR merchant_id = (SELECT NULLIF(current_setting('app.merchant_id', true), '')::integer)")

revision = '0019'
down_revision = '0017'
branch_labels = None
depends_on = None


SMS_STATUSES = ('queued', 'sent', 'failed', 'skipped')


def _sms_status_check(batch_op, values):
    batch_op.drop_constraint(op.f('ck_sms_messages_smsstatus'), type_='check')
    batch_op.create_check_constraint(
        op.f('ck_sms_messages_smsstatus'),
        sa.text("status IN (%s)" % ", ".join(f"'{v}'" for v in values)))


def upgrade():
    # A queued text withdrawn because its customer opted out or was erased.
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        _sms_status_check(batch_op, SMS_STATUSES + ('cancelled',))
        batch_op.add_column(sa.Column(
            'kind', sa.Enum('transactional', 'promotional', name='messagekind', native_enum=False,
                            create_constraint=True, length=20),
            # Kept: the crediting batch's set-wise INSERT writes receipts without naming it.
            nullable=False, server_default='transactional'))

    with op.batch_alter_table('customers', schema=None) as batch_op:
        # Kept: the crediting batch's set-wise INSERT creates customers without naming it.
        batch_op.add_column(sa.Column('marketing_consent', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('consent_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('sms_opt_out', 'marketing_consent', name='consentkind', native_enum=False, create_constraint=True, length=30), nullable=False),
    sa.Column('value', sa.Boolean(), nullable=False),
    sa.Column('source', sa.Enum('api', 'web', 'sms', 'gateway', name='consentsource', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('detail', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_consent_events_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_consent_events_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_events'))
    )
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.create_index('ix_consent_events_customer', ['customer_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_events_merchant_id'), ['merchant_id'],
                              unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'CREATE POLICY tenant_isolation ON consent_events USING ({POLICY})')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE consent_events NO FORCE ROW LEVEL SECURITY')
        op.execute('ALTER TABLE consent_events DISABLE ROW LEVEL SECURITY')
        op.execute('DROP POLICY tenant_isolation ON consent_events')
    op.drop_table('consent_events')
    op.execute("UPDATE sms_messages SET status = 'skipped' WHERE status = 'cancelled'")
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_column('kind')
        _sms_status_check(batch_op, SMS_STATUSES)
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
        batch_op.drop_column('marketing_consent')
