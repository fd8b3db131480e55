"""channels keep a stable code beside the message of a failed verification or URL
registration, so the API reports each step's error as {code, message} like every other
error (issue 15)

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('mpesa_channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verification_error_code', sa.String(length=40),
                                      nullable=True))
        batch_op.add_column(sa.Column('urls_error_code', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('mpesa_channels', schema=None) as batch_op:
        batch_op.drop_column('urls_error_code')
        batch_op.drop_column('verification_error_code')
