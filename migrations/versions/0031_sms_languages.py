"""texts in the customer's language: customers.language, merchants.sms_language

`customers.language` (`en` or `sw`; NULL follows the merchant's default) and
`merchants.sms_language` (the default, `en`). Receipts, reward and reversal texts are
rendered in that language from the program's `sms_translations`, else its English texts.

Revision ID: 0031
Revises: 0030
"""
import sqlalchemy as sa
from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=2), nullable=True))
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        # Every existing merchant keeps texting in English.
        batch_op.add_column(sa.Column('sms_language', sa.String(length=2), server_default='en',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('sms_language')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('language')
