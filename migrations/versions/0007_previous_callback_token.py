"""a rotated callback token keeps working for a grace period

`previous_callback_token` routes callbacks until `previous_token_expires_at`
(CALLBACK_TOKEN_GRACE_HOURS after the rotation), while the URLs are registered again.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('mpesa_channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_callback_token', sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('previous_token_expires_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_mpesa_channels_previous_callback_token'), ['previous_callback_token'])


def downgrade():
    with op.batch_alter_table('mpesa_channels', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_mpesa_channels_previous_callback_token'),
                                 type_='unique')
        batch_op.drop_column('previous_token_expires_at')
        batch_op.drop_column('previous_callback_token')
