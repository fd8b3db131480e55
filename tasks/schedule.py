"""The whole beat schedule, one named entry per periodic job."""

from __future__ import annotations

from celery.schedules import crontab

from loyalty.background import TaskName


def beat_schedule(config) -> dict:
    return {
        "channel-health-checks": {
            "task": str(TaskName.CHECK_ALL_CHANNELS),
            "schedule": float(config["HEALTH_CHECK_INTERVAL"]),
        },
        # Payments stored while Redis was down (no nudge reached a worker) are credited here.
        "sweep-received-payments": {
            "task": str(TaskName.CREDIT_WAITING),
            "schedule": config["SWEEP_INTERVAL"],
        },
        # Texts whose send task was lost (Redis down at publish, a dead worker) go out here.
        "sweep-sms-outbox": {
            "task": str(TaskName.SWEEP_SMS_OUTBOX),
            "schedule": config["SWEEP_INTERVAL"] * 2,
        },
        # STK pushes still pending 24 h after the push expire; lost follow-ups run again.
        "sweep-stk-requests": {
            "task": str(TaskName.SWEEP_STK_REQUESTS),
            "schedule": config["STK_SWEEP_INTERVAL"],
        },
        # Reversals (and other async requests) no answer will come for fail, saying what to
        # check, instead of waiting for ever.
        "give-up-unanswered-async-requests": {
            "task": str(TaskName.GIVE_UP_UNANSWERED),
            "schedule": config["ASYNC_SWEEP_INTERVAL"],
        },
        # Confirmations Safaricom never delivered (it does not retry) are recovered here.
        "reconcile-pull-transactions": {
            "task": str(TaskName.RECONCILE_ALL),
            "schedule": config["RECONCILE_INTERVAL"],
        },
        # Webhook retries that are due, and deliveries whose task was lost.
        "sweep-webhook-deliveries": {
            "task": str(TaskName.SWEEP_WEBHOOKS),
            "schedule": config["WEBHOOK_SWEEP_INTERVAL"],
        },
        "expire-points": {
            "task": str(TaskName.EXPIRE_ALL_POINTS),
            "schedule": crontab(hour=0, minute=30),  # 03:30 in Nairobi
        },
        # Callback bodies are kept for review, not forever (CALLBACK_LOG_RETENTION_DAYS).
        "purge-callback-log": {
            "task": str(TaskName.PURGE_CALLBACK_LOG),
            "schedule": crontab(hour=1, minute=15),  # 04:15 in Nairobi
        },
    }
