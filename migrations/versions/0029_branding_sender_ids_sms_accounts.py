"""white-label: branding, sender IDs, a merchant's own SMS account

`merchants`: `public_id` (opaque, names the merchant in /brand/<public_id>/… URLs; existing
merchants get one here), `brand_display_name`, `brand_primary_color`, `brand_accent_color`,
`logo_png` (the re-encoded PNG, bytea) and `logo_updated_at`; `sms_username` and
`sms_api_key` (encrypted like Daraja secrets) for a merchant's own Africa's Talking account.
`sender_ids`: one requested sender ID per merchant and category, pending until the
operator approves or rejects it; a tenant table with 0013's row-level policy (created, row
security left off).

Revision ID: 0029
Revises: 0028
"""
import sqlalchemy as sa
from alembic import op

# 0013's policy, as it was written there (a migration keeps its own copy).
POLICY = ("(SELECT current_setting('app.all_merchants', true)) = 'on' "
          "OR merchant_id = (SELECT NULLIF(current_setting('app.merchant_id', true), '')::integer)")

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('brand_display_name', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('brand_primary_color', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('brand_accent_color', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('logo_png', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('logo_updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sms_username', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('sms_api_key', sa.Text(), nullable=True))
    # Existing merchants: 16 random hex digits each, as crypto.new_public_id makes them.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE merchants SET public_id = "
                   "substr(md5(random()::text || clock_timestamp()::text || id::text), 1, 16)")
    else:
        op.execute("UPDATE merchants SET public_id = lower(hex(randomblob(8)))")
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.alter_column('public_id', existing_type=sa.String(length=16), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_merchants_public_id'), ['public_id'])

    op.create_table('sender_ids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sa.Enum('transactional', 'promotional', name='senderidcategory', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('sender_id', sa.String(length=11), nullable=False),
    sa.Column('state', sa.Enum('pending', 'approved', 'rejected', name='senderidstate', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_sender_ids_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sender_ids')),
    sa.UniqueConstraint('merchant_id', 'category', name=op.f('uq_sender_ids_merchant_id_category'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'CREATE POLICY tenant_isolation ON sender_ids USING ({POLICY})')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE sender_ids NO FORCE ROW LEVEL SECURITY')
        op.execute('ALTER TABLE sender_ids DISABLE ROW LEVEL SECURITY')
        op.execute('DROP POLICY tenant_isolation ON sender_ids')
    op.drop_table('sender_ids')
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_merchants_public_id'), type_='unique')
        for column in ('sms_api_key', 'sms_username', 'logo_updated_at', 'logo_png',
                       'brand_accent_color', 'brand_primary_color', 'brand_display_name',
                       'public_id'):
            batch_op.drop_column(column)
