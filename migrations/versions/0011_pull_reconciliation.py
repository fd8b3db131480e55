"""pull transactions: per-channel registration, reconciliation runs, payments of source pull

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _source_check(batch_op, values):
    batch_op.drop_constraint(op.f('ck_payments_paymentsource'), type_='check')
    batch_op.create_check_constraint(
        op.f('ck_payments_paymentsource'),
        sa.text("source IN (%s)" % ", ".join(f"'{v}'" for v in values)))


def upgrade():
    with op.batch_alter_table('mpesa_channels', schema=None) as batch_op:
        # The default only fills the existing rows; the model sets the value from now on.
        batch_op.add_column(sa.Column('pull_state', sa.Enum(
            'none', 'pending', 'done', 'failed', name='pull_state', native_enum=False,
            create_constraint=True, length=20), nullable=False, server_default='none'))
        batch_op.add_column(sa.Column('pull_nominated_number', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('pull_registered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pull_last_run_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pull_error', sa.Text(), nullable=True))
    with op.batch_alter_table('mpesa_channels', schema=None) as batch_op:
        batch_op.alter_column('pull_state', server_default=None)

    with op.batch_alter_table('payments', schema=None) as batch_op:
        _source_check(batch_op, ('c2b', 'stk', 'pull'))

    op.create_table('reconciliation_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.Enum('merchant', 'schedule', name='runtrigger', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('window_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_to', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.Enum('running', 'done', 'failed', name='runstate', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('rows_seen', sa.Integer(), nullable=False),
    sa.Column('already_known', sa.Integer(), nullable=False),
    sa.Column('recovered', sa.Integer(), nullable=False),
    sa.Column('ignored', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('skipped_reasons', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['mpesa_channels.id'], name=op.f('fk_reconciliation_runs_channel_id_mpesa_channels')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_reconciliation_runs_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_runs'))
    )
    with op.batch_alter_table('reconciliation_runs', schema=None) as batch_op:
        batch_op.create_index('ix_reconciliation_runs_channel',
                              ['merchant_id', 'channel_id', 'id'], unique=False)
        batch_op.create_index('uq_reconciliation_runs_running', ['channel_id'], unique=True,
                              postgresql_where=sa.text("state = 'running'"),
                              sqlite_where=sa.text("state = 'running'"))


def downgrade():
    with op.batch_alter_table('reconciliation_runs', schema=None) as batch_op:
        batch_op.drop_index('uq_reconciliation_runs_running')
        batch_op.drop_index('ix_reconciliation_runs_channel')
    op.drop_table('reconciliation_runs')
    op.execute("DELETE FROM payments WHERE source = 'pull'")
    with op.batch_alter_table('payments', schema=None) as batch_op:
        _source_check(batch_op, ('c2b', 'stk'))
    with op.batch_alter_table('mpesa_channels', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_mpesa_channels_pull_state'), type_='check')
        batch_op.drop_column('pull_error')
        batch_op.drop_column('pull_last_run_at')
        batch_op.drop_column('pull_registered_at')
        batch_op.drop_column('pull_nominated_number')
        batch_op.drop_column('pull_state')
