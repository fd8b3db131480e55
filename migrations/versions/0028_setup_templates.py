"""setup_applies (idempotent applies of setup templates); loyalty_programs.sms_translations

`setup_applies`: one row per successful apply of a setup template, unique per merchant and
idempotency key; it keeps the first result (replayed for the same request) and the
resources the template made or adopted. `loyalty_programs.sms_translations`: a program's
texts in other languages (Swahili), as templates set and export them.

Revision ID: 0028
Revises: 0027
"""
import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

# 0013's policy, as it was written there (a migration keeps its own copy).
POLICY = ("(SELECT current_setting('app.all_merchants', true)) = 'on' "
          "OR merchant_id = (SELECT NULLIF(current_setting('app.merchant_id', true), '')::integer)")


def upgrade():
    op.create_table(
        'setup_applies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=100), nullable=False),
        sa.Column('template_key', sa.String(length=40), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('resources', sa.JSON(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'],
                                name=op.f('fk_setup_applies_merchant_id_merchants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_setup_applies')),
        sa.UniqueConstraint('merchant_id', 'idempotency_key',
                            name=op.f('uq_setup_applies_merchant_id_idempotency_key')),
    )
    with op.batch_alter_table('loyalty_programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_translations', sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'CREATE POLICY tenant_isolation ON setup_applies USING ({POLICY})')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE setup_applies NO FORCE ROW LEVEL SECURITY')
        op.execute('ALTER TABLE setup_applies DISABLE ROW LEVEL SECURITY')
        op.execute('DROP POLICY tenant_isolation ON setup_applies')
    with op.batch_alter_table('loyalty_programs', schema=None) as batch_op:
        batch_op.drop_column('sms_translations')
    op.drop_table('setup_applies')
