"""merchants, api keys, programs

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 06:26:49.308608

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('merchants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('business_name', sa.String(length=200), nullable=False),
    sa.Column('owner_name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone', sa.String(length=12), nullable=False),
    sa.Column('business_type', sa.Enum('RETAIL', 'RESTAURANT', 'SERVICES', 'HOSPITALITY', 'OTHER', name='businesstype', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('mpesa_till_number', sa.String(length=20), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merchants')),
    sa.UniqueConstraint('email', name=op.f('uq_merchants_email'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_api_keys_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('loyalty_programs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('points_per_unit', sa.Integer(), nullable=False),
    sa.Column('unit_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('multiplier', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('min_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('stamps_required', sa.Integer(), nullable=True),
    sa.Column('stamp_reward', sa.String(length=100), nullable=True),
    sa.Column('points_expiry_days', sa.Integer(), nullable=True),
    sa.Column('sms_template', sa.Text(), nullable=True),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('multiplier >= 0', name=op.f('ck_loyalty_programs_multiplier_not_negative')),
    sa.CheckConstraint('points_per_unit >= 0', name=op.f('ck_loyalty_programs_points_per_unit_not_negative')),
    sa.CheckConstraint('unit_amount > 0', name=op.f('ck_loyalty_programs_unit_amount_positive')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_loyalty_programs_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_programs')),
    sa.UniqueConstraint('merchant_id', 'code', name=op.f('uq_loyalty_programs_merchant_id_code'))
    )
    with op.batch_alter_table('loyalty_programs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_programs_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index('uq_loyalty_programs_one_default', ['merchant_id'], unique=True, postgresql_where=sa.text('is_default'), sqlite_where=sa.text('is_default'))



def downgrade():
    with op.batch_alter_table('loyalty_programs', schema=None) as batch_op:
        batch_op.drop_index('uq_loyalty_programs_one_default', postgresql_where=sa.text('is_default'), sqlite_where=sa.text('is_default'))
        batch_op.drop_index(batch_op.f('ix_loyalty_programs_merchant_id'))

    op.drop_table('loyalty_programs')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_merchant_id'))

    op.drop_table('api_keys')
    op.drop_table('merchants')
