"""The time window of a reconciliation run: pure rules, no database (DARAJA.md 4.8).

Pull Transactions covers only the last 48 hours, so a window must fit inside them: at most
48 hours long, starting no earlier than 48 hours ago, and not in the future. Anything else
is refused up front (422, naming the field) instead of asking Safaricom for rows it no
longer keeps, which would look like a run that found nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from loyalty.errors import ValidationFailed

PULL_RETENTION = timedelta(hours=48)
DEFAULT_SPAN = timedelta(hours=24)
# Clocks differ by a little: a window ending a moment "in the future" is still now.
CLOCK_SLACK = timedelta(minutes=2)


def reconcile_window(now: datetime, since: datetime | None = None,
                     until: datetime | None = None) -> tuple[datetime, datetime]:
    """(from, to) for a run: by default the last 24 hours; ValidationFailed otherwise."""
    problems: dict[str, list[str]] = {}
    if since is not None and until is not None:
        if since >= until:
            problems["from"] = ["The window must start before it ends."]
        elif until - since > PULL_RETENTION:
            problems["to"] = ["The window may be at most 48 hours long: Safaricom keeps Pull "
                              "Transactions for 48 hours."]
    for field, value in (("from", since), ("to", until)):
        if value is None:
            continue
        if value > now + CLOCK_SLACK:
            problems.setdefault(field, []).append("The window may not be in the future.")
        elif value < now - PULL_RETENTION - CLOCK_SLACK:
            problems.setdefault(field, []).append(
                "The window must lie within the last 48 hours: Safaricom keeps Pull "
                "Transactions for 48 hours.")
    if problems:
        raise ValidationFailed("The reconciliation window is not one Safaricom can answer.",
                               fields=problems)
    # Both bounds lie within two days of now from here on: no arithmetic can overflow.
    if until is None:
        until = min(now, since + DEFAULT_SPAN) if since is not None else now
    if since is None:
        since = max(until - DEFAULT_SPAN, now - PULL_RETENTION)
    if since >= until:
        raise ValidationFailed("The reconciliation window is not one Safaricom can answer.",
                               fields={"from": ["The window must start before it ends."]})
    return since, until
