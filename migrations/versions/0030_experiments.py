"""experiments, experiment_assignments; ledger_entries.experiment_id and variant

Experiments on a program's earning rule (DESIGN.md section 12): the experiment with its
variants, split and plan; the payers assigned to a variant at their first eligible payment
(unique per experiment and payer); the ledger entries a variant's rule earned name it.
Both new tables are tenant tables with 0013's row-level policy (created, row security left off).

Revision ID: 0030
Revises: 0029
"""
import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

# 0013's policy, as it was written there (a migration keeps its own copy).
POLICY = ("(SELECT current_setting('app.all_merchants', true)) = 'on' "
          "OR merchant_id = (SELECT NULLIF(current_setting('app.merchant_id', true), '')::integer)")
TENANT_TABLES = ('experiments', 'experiment_assignments')
RUNNING = "status = 'running'"
IN_EXPERIMENT = "experiment_id IS NOT NULL"


def upgrade():
    op.create_table(
        'experiments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('channel_ids', sa.JSON(), nullable=True),
        sa.Column('variants', sa.JSON(), nullable=False),
        sa.Column('split', sa.JSON(), nullable=False),
        sa.Column('metric_days', sa.Integer(), nullable=False),
        sa.Column('minimum_detectable_effect', sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column('method', sa.Enum('fixed', 'sequential', name='method', native_enum=False,
                                    length=20), nullable=False),
        sa.Column('status', sa.Enum('draft', 'running', 'stopped', 'promoted',
                                    name='experimentstatus', native_enum=False, length=20),
                  nullable=False),
        sa.Column('salt', sa.String(length=32), nullable=False),
        sa.Column('plan', sa.JSON(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('promoted_variant', sa.String(length=20), nullable=True),
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('metric_days BETWEEN 1 AND 90',
                           name=op.f('ck_experiments_metric_days_range')),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'],
                                name=op.f('fk_experiments_merchant_id_merchants'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['program_id'], ['loyalty_programs.id'],
                                name=op.f('fk_experiments_program_id_loyalty_programs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_experiments')),
    )
    with op.batch_alter_table('experiments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_experiments_merchant_id'), ['merchant_id'])
        batch_op.create_index(batch_op.f('ix_experiments_program_id'), ['program_id'])
        batch_op.create_index('uq_experiments_one_running', ['program_id'], unique=True,
                              postgresql_where=sa.text(RUNNING), sqlite_where=sa.text(RUNNING))
    op.create_table(
        'experiment_assignments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('experiment_id', sa.Integer(), nullable=False),
        sa.Column('unit_key', sa.String(length=64), nullable=False),
        sa.Column('variant', sa.String(length=20), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('payment_id', sa.Integer(), nullable=False),
        sa.Column('first_paid_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name=op.f('fk_experiment_assignments_customer_id_customers'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['experiment_id'], ['experiments.id'],
                                name=op.f('fk_experiment_assignments_experiment_id_experiments'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'],
                                name=op.f('fk_experiment_assignments_merchant_id_merchants'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['payment_id'], ['payments.id'],
                                name=op.f('fk_experiment_assignments_payment_id_payments'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_experiment_assignments')),
        sa.UniqueConstraint('experiment_id', 'unit_key',
                            name=op.f('uq_experiment_assignments_experiment_id_unit_key')),
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('experiment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('variant', sa.String(length=20), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_ledger_entries_experiment_id_experiments'),
                                    'experiments', ['experiment_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index('ix_ledger_entries_experiment', ['experiment_id', 'customer_id'],
                              postgresql_where=sa.text(IN_EXPERIMENT),
                              sqlite_where=sa.text(IN_EXPERIMENT))
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
        batch_op.drop_index('ix_ledger_entries_experiment', postgresql_where=sa.text(IN_EXPERIMENT),
                            sqlite_where=sa.text(IN_EXPERIMENT))
        batch_op.drop_constraint(batch_op.f('fk_ledger_entries_experiment_id_experiments'),
                                 type_='foreignkey')
        batch_op.drop_column('variant')
        batch_op.drop_column('experiment_id')
    op.drop_table('experiment_assignments')
    op.drop_table('experiments')
