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
    if until is None:
        until = min(now, since + DEFAULT_SPAN) if since is not None else now
    if since is None:
        since = until - DEFAULT_SPAN
    problems: dict[str, list[str]] = {}
    if until > now + CLOCK_SLACK:
        problems["to"] = ["The window may not end in the future."]
    if since > now + CLOCK_SLACK:
        problems["from"] = ["The window may not start in the future."]
    if since >= until:
        problems.setdefault("from", []).append("The window must start before it ends.")
    if until - since > PULL_RETENTION:
        problems.setdefault("to", []).append(
            "The window may be at most 48 hours long: Safaricom keeps Pull Transactions for "
            "48 hours.")
    elif since < now - PULL_RETENTION - CLOCK_SLACK:
        problems.setdefault("from", []).append(
            "The window must start within the last 48 hours: Safaricom keeps Pull "
            "Transactions for 48 hours.")
    if problems:
        raise ValidationFailed("The reconciliation window is not one Safaricom can answer.",
                               fields=problems)
    return since, until
