"""sms_day_counts: each merchant's texts of the Nairobi day, kept by triggers

The daily SMS quota (DESIGN.md section 10) was checked by counting the merchant's texts of
the day on every crediting batch: the cost of a batch grew with the texts already sent
that day (a busy merchant's 9,000 receipts: ~2,000 pages read and 8–22 ms per batch,
bench/README.md). Now two statement-level triggers on `sms_messages` keep the count: a
text written counts unless it is skipped or a password-reset text (the rows the partial
index `ix_sms_messages_counted` held), and a text skipped after it was written (a link
refused at sending) stops counting. The quota reads one row per merchant.

PostgreSQL only: on SQLite (`make run`, one process) the quota keeps counting the rows
(db/sms.ALLOWANCES_COUNTED). The two most recent days are counted from the existing rows
(the quota only ever asks for today). A tenant table with 0013's row-level policy.

Revision ID: 0032
Revises: 0031
"""
import sqlalchemy as sa
from alembic import op

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None

# 0013's policy, as it was written there (a migration keeps its own copy).
POLICY = ("(SELECT current_setting('app.all_merchants', true)) = 'on' "
          "OR merchant_id = (SELECT NULLIF(current_setting('app.merchant_id', true), '')::integer)")
# The Nairobi day a text was written on (Kenya keeps UTC+3 all year, as
# services/sms_allowance.day_start does).
DAY = "((created_at AT TIME ZONE 'UTC') + interval '3 hours')::date"
COUNTED = "status <> 'skipped' AND purpose <> 'password_reset'"

TRIGGERS = f"""
CREATE FUNCTION sms_day_counts_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Merchants in id order: two batches counting the same merchants never deadlock.
    INSERT INTO sms_day_counts AS c (merchant_id, day, texts)
    SELECT merchant_id, {DAY}, count(*) FROM written WHERE {COUNTED}
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (merchant_id, day) DO UPDATE SET texts = c.texts + excluded.texts;
    RETURN NULL;
END $$;

CREATE FUNCTION sms_day_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sms_day_counts AS c (merchant_id, day, texts)
    SELECT n.merchant_id, {DAY.replace('created_at', 'n.created_at')},
           sum(CASE WHEN n.status = 'skipped' THEN -1 ELSE 1 END)
    FROM before_rows o JOIN after_rows n ON n.id = o.id
    WHERE (o.status = 'skipped') <> (n.status = 'skipped') AND n.purpose <> 'password_reset'
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (merchant_id, day) DO UPDATE SET texts = c.texts + excluded.texts;
    RETURN NULL;
END $$;

CREATE TRIGGER sms_day_counts_insert AFTER INSERT ON sms_messages
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION sms_day_counts_written();

CREATE TRIGGER sms_day_counts_update AFTER UPDATE ON sms_messages
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sms_day_counts_changed();
"""


def upgrade():
    op.create_table(
        'sms_day_counts',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('texts', sa.Integer(), nullable=False),
        sa.Column('merchant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'],
                                name=op.f('fk_sms_day_counts_merchant_id_merchants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('merchant_id', 'day', name=op.f('pk_sms_day_counts')),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(TRIGGERS)
        op.execute(f"""
            INSERT INTO sms_day_counts (merchant_id, day, texts)
            SELECT merchant_id, {DAY}, count(*) FROM sms_messages
            WHERE created_at >= now() - interval '2 days' AND {COUNTED}
            GROUP BY 1, 2""")
        op.execute(f'CREATE POLICY tenant_isolation ON sms_day_counts USING ({POLICY})')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE sms_day_counts NO FORCE ROW LEVEL SECURITY')
        op.execute('ALTER TABLE sms_day_counts DISABLE ROW LEVEL SECURITY')
        op.execute('DROP POLICY tenant_isolation ON sms_day_counts')
        op.execute('DROP TRIGGER sms_day_counts_update ON sms_messages')
        op.execute('DROP TRIGGER sms_day_counts_insert ON sms_messages')
        op.execute('DROP FUNCTION sms_day_counts_changed()')
        op.execute('DROP FUNCTION sms_day_counts_written()')
    op.drop_table('sms_day_counts')
