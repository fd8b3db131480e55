"""Celery tasks: thin named wrappers over loyalty.services.

Importing this package registers every task on the current Celery app.
"""

from tasks import (  # noqa: F401
    accounts,
    callback_log,
    channels,
    ledger,
    payments,
    reconciliation,
    sms,
    webhooks,
)
