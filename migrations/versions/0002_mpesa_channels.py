"""mpesa channels, and a draft 'Legacy Channel' for each merchant of the single-till setup

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 06:33:16.500758

"""
import secrets
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mpesa_channels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('shortcode', sa.String(length=10), nullable=False),
    sa.Column('channel_type', sa.Enum('paybill', 'till', 'buygoods', name='channeltype', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('environment', sa.Enum('sandbox', 'production', name='environment', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('store_number', sa.String(length=10), nullable=True),
    sa.Column('c2b_version', sa.Enum('v1', 'v2', name='c2bversion', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('consumer_key', sa.Text(), nullable=True),
    sa.Column('consumer_secret', sa.Text(), nullable=True),
    sa.Column('passkey', sa.Text(), nullable=True),
    sa.Column('initiator_name', sa.String(length=100), nullable=True),
    sa.Column('initiator_password', sa.Text(), nullable=True),
    sa.Column('consumer_key_hint', sa.String(length=4), nullable=True),
    sa.Column('account_mapping', sa.JSON(), nullable=False),
    sa.Column('validation_policy', sa.Enum('accept_all', 'reject_unknown', name='validationpolicy', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('status', sa.Enum('draft', 'configured', 'verified', 'active', name='channelstatus', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('is_primary', sa.Boolean(), nullable=False),
    sa.Column('callback_token', sa.String(length=64), nullable=False),
    sa.Column('verification_state', sa.Enum('none', 'pending', 'done', 'failed', name='verification_state', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verification_details', sa.JSON(), nullable=True),
    sa.Column('verification_error', sa.Text(), nullable=True),
    sa.Column('urls_state', sa.Enum('none', 'pending', 'done', 'failed', name='urls_state', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('validation_url', sa.Text(), nullable=True),
    sa.Column('confirmation_url', sa.Text(), nullable=True),
    sa.Column('response_type', sa.String(length=10), nullable=True),
    sa.Column('urls_registered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('urls_error', sa.Text(), nullable=True),
    sa.Column('health_state', sa.Enum('unknown', 'healthy', 'failing', name='healthstate', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('health_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('health_error', sa.Text(), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_mpesa_channels_merchant_id_merchants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mpesa_channels')),
    sa.UniqueConstraint('callback_token', name=op.f('uq_mpesa_channels_callback_token'))
    )
    with op.batch_alter_table('mpesa_channels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mpesa_channels_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index('uq_mpesa_channels_one_primary', ['merchant_id'], unique=True, postgresql_where=sa.text('is_primary AND archived_at IS NULL'), sqlite_where=sa.text('is_primary AND archived_at IS NULL'))
        batch_op.create_index('uq_mpesa_channels_production_shortcode', ['shortcode'], unique=True, postgresql_where=sa.text("environment = 'production' AND archived_at IS NULL"), sqlite_where=sa.text("environment = 'production' AND archived_at IS NULL"))


    _create_legacy_channels()


def _create_legacy_channels():
    """Merchants of the old setup kept one till in merchants.mpesa_till_number and the Daraja
    credentials in the environment. Each gets a draft till channel with that number; the
    operator moves the credentials in with `flask channels import-env --merchant N`."""
    bind = op.get_bind()
    merchants = sa.table("merchants", sa.column("id"), sa.column("mpesa_till_number"))
    channels = sa.table(
        "mpesa_channels", sa.column("account_mapping", sa.JSON), *(sa.column(name) for name in (
            "merchant_id", "name", "shortcode", "channel_type", "environment", "c2b_version",
            "validation_policy", "status", "is_active", "is_primary",
            "callback_token", "verification_state", "urls_state", "health_state",
            "created_at", "updated_at")))
    rows = bind.execute(sa.select(merchants.c.id, merchants.c.mpesa_till_number)
                        .where(merchants.c.mpesa_till_number.is_not(None))
                        .where(merchants.c.mpesa_till_number != "")).all()
    now = datetime.now(timezone.utc)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    for merchant_id, till in rows:
        bind.execute(channels.insert().values(
            merchant_id=merchant_id, name="Legacy Channel", shortcode=till.strip(),
            channel_type="till", environment="production", c2b_version="v2",
            account_mapping={"default": "loyalty"},
            validation_policy="accept_all", status="draft", is_active=False, is_primary=True,
            callback_token=secrets.token_hex(16), verification_state="none", urls_state="none",
            health_state="unknown", created_at=now, updated_at=now))


def downgrade():
    with op.batch_alter_table('mpesa_channels', schema=None) as batch_op:
        batch_op.drop_index('uq_mpesa_channels_production_shortcode', postgresql_where=sa.text("environment = 'production' AND archived_at IS NULL"), sqlite_where=sa.text("environment = 'production' AND archived_at IS NULL"))
        batch_op.drop_index('uq_mpesa_channels_one_primary', postgresql_where=sa.text('is_primary AND archived_at IS NULL'), sqlite_where=sa.text('is_primary AND archived_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_mpesa_channels_merchant_id'))

    op.drop_table('mpesa_channels')
