"""What waits, across every merchant: the numbers `/metrics` reports at scrape time
(services/backlogs.py). Both read the partial indexes the workers themselves use
(ix_payments_received, ix_sms_messages_queued), so they stay cheap while the backlog is
small, which is when it is scraped most."""

from __future__ import annotations

import sqlalchemy as sa

from loyalty.db.statements import Statement
from loyalty.models.base import UTCDateTime

BACKLOGS = Statement("backlogs.all", sa.text("""
    SELECT 'payments' AS kind, count(*) AS waiting, min(created_at) AS oldest
      FROM payments WHERE status = 'received' HAVING count(*) > 0
    UNION ALL
    SELECT 'texts', count(*), min(updated_at)
      FROM sms_messages WHERE status = 'queued' HAVING count(*) > 0""")
    .columns(sa.column("kind", sa.String), sa.column("waiting", sa.Integer),
             sa.column("oldest", UTCDateTime())),
    doc="Payments waiting for crediting and texts waiting to be sent (a row for each kind "
        "that has any), with the oldest of each, for the operator's metrics.",
    cross_tenant="an operator's totals over the whole platform; counts and times only, "
                 "nothing of any merchant's rows leaves the statement.")
