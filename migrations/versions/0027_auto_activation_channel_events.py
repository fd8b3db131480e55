"""mpesa_channels.auto_activate and notify_by_sms; channel_events

`auto_activate` (default true): a channel activates itself once verification and URL
registration have both succeeded. `notify_by_sms` (default false): the merchant's own phone
is texted when that happens or when the channel starts failing its health check.
`paused_at`: when the merchant deactivated it (auto-activation then leaves it alone).
`channel_events`: each channel's history (kind, actor, detail without secrets), a tenant
table with 0013's row-level policy (created, row security left off).

Revision ID: 0027
Revises: 0026
"""
import sqlalchemy as sa
from alembic import op

# 0013's policy, as it was written there (a migration keeps its own copy).
POLICY = ("(SELECT current_setting('app.all_merchants', true)) = 'on' "
          "OR merchant_id = (SELECT NULLIF(current_setting('app.merchant_id', true), '')::integer)")

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

KINDS = ('created', 'verified', 'verification_failed', 'urls_registered', 'urls_failed',
         'activated', 'deactivated', 'health_changed', 'credentials_changed', 'token_rotated')
ACTORS = ('merchant', 'auto', 'system', 'operator')


def upgrade():
    with op.batch_alter_table('mpesa_channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auto_activate', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))
        batch_op.add_column(sa.Column('notify_by_sms', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('channel_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum(*KINDS, name='channeleventkind', native_enum=False, create_constraint=True, length=30), nullable=False),
    sa.Column('actor', sa.Enum(*ACTORS, name='actor', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['mpesa_channels.id'], name=op.f('fk_channel_events_channel_id_mpesa_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_channel_events_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_events'))
    )
    with op.batch_alter_table('channel_events', schema=None) as batch_op:
        batch_op.create_index('ix_channel_events_channel_id_id', ['channel_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_channel_events_merchant_id'), ['merchant_id'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'CREATE POLICY tenant_isolation ON channel_events USING ({POLICY})')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE channel_events NO FORCE ROW LEVEL SECURITY')
        op.execute('ALTER TABLE channel_events DISABLE ROW LEVEL SECURITY')
        op.execute('DROP POLICY tenant_isolation ON channel_events')
    with op.batch_alter_table('channel_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_events_merchant_id'))
        batch_op.drop_index('ix_channel_events_channel_id_id')
    op.drop_table('channel_events')
    with op.batch_alter_table('mpesa_channels', schema=None) as batch_op:
        batch_op.drop_column('paused_at')
        batch_op.drop_column('notify_by_sms')
        batch_op.drop_column('auto_activate')
