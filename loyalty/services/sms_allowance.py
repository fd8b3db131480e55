"""Who a merchant may text, and how many texts a day: no SMS relay (DESIGN.md section 10).

Anyone can sign up, add a sandbox channel and post forged confirmations to it; without
these rules that is free SMS, with the merchant's name on it, to any number. So:

- under `SANDBOX_SMS_POLICY=restricted` (the default) a sandbox channel's payment is
  texted only to the merchant's own phone or its `sms_test_numbers`; hashed numbers,
  whoever they are, are never texted from a sandbox channel;
- a merchant sends at most `SMS_DAILY_QUOTA` texts per Nairobi day, and
  `SMS_DAILY_QUOTA_SANDBOX` until one of its production channels is active; its own
  password-reset texts are not counted (models/messages.QUOTA_EXEMPT_PURPOSE: the reset's
  rate limits bound them, and a merchant over its quota can still reset its password);
- a link (sms/links.py) goes out only for a merchant with an active production channel:
  refused when a program is saved, and checked again on the text itself when it is sent.

The first two are decided when crediting writes the receipt (services/crediting/): a text
that may not go is written `skipped` with its reason, never queued. The batch reads every
merchant's allowance with one statement (db/sms.ALLOWANCES: the day's count kept by
triggers, one row per merchant, however many texts it has sent today) and counts the texts
it admits in memory, so the set-wise path stays set-wise. Two workers crediting one merchant at the
same moment may each admit up to the quota's remainder: the quota can be overrun by one
batch's worth, never more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

import sqlalchemy as sa
from flask import current_app

from loyalty.db import sms as statements
from loyalty.extensions import db
from loyalty.models import SkipReason
from loyalty.sms.links import find_link
from loyalty.tenancy import current_merchant_id

# Kenya keeps UTC+3 all year (services/payments.EAT): the quota restarts at midnight
# in Nairobi, when the merchant's day does.
_NAIROBI = timezone(timedelta(hours=3))

SANDBOX_ONLY = ("A sandbox channel's payment: texted only to your own phone and your SMS "
                "test numbers.")


@dataclass
class Allowance:
    """What one merchant may still text today. `admit` counts each text it lets through."""

    merchant_id: int
    merchant_name: str
    own_numbers: frozenset[str]
    production: bool   # one of its production channels is active
    restricted: bool   # SANDBOX_SMS_POLICY=restricted
    quota: int
    used: int          # texts today, not counting skipped ones
    # The language of texts to its customers who never chose one (read here because
    # every text's writer reads the allowance already: no query more per payment).
    language: str = "en"

    @property
    def exhausted(self) -> bool:
        return self.used >= self.quota

    def admit(self, recipient: str | None, form: str, *, sandbox: bool
              ) -> tuple[SkipReason, str] | None:
        """None when a text to `recipient` may go (it is counted), else (reason, why)."""
        if sandbox and self.restricted and (form != "plain" or recipient not in self.own_numbers):
            return SkipReason.SANDBOX, SANDBOX_ONLY
        if self.exhausted:
            return SkipReason.QUOTA, (f"The daily limit of {self.quota:,} texts was reached; "
                                      "texts start again at midnight (Nairobi time).")
        self.used += 1
        return None


def day_start(now: datetime | None = None) -> datetime:
    """The start of the Nairobi day `now` falls in, in UTC."""
    today = (now or datetime.now(timezone.utc)).astimezone(_NAIROBI).date()
    return datetime.combine(today, time(), _NAIROBI).astimezone(timezone.utc)


def allowances(connection: sa.Connection, merchant_ids) -> dict[int, Allowance]:
    """Each merchant's allowance for today, read with one statement."""
    config = current_app.config
    restricted = config["SANDBOX_SMS_POLICY"] == "restricted"
    since, ids = day_start(), sorted(set(merchant_ids))
    if connection.dialect.name == "postgresql":  # the triggers' count (migration 0032)
        rows = statements.ALLOWANCES.execute(connection, {
            "merchant_id": ids, "day": since.astimezone(_NAIROBI).date()})
    else:
        rows = statements.ALLOWANCES_COUNTED.execute(connection, {
            "merchant_id": ids, "since": since})
    return {row.id: Allowance(
        merchant_id=row.id, merchant_name=row.business_name,
        own_numbers=frozenset([row.phone, *(row.sms_test_numbers or ())]),
        production=bool(row.production), restricted=restricted,
        quota=config["SMS_DAILY_QUOTA" if row.production else "SMS_DAILY_QUOTA_SANDBOX"],
        used=row.texts_today, language=row.sms_language) for row in rows}


def current_allowance() -> Allowance:
    """The current merchant's allowance for today (the dashboard shows it)."""
    merchant_id = current_merchant_id()
    return allowances(db.session.connection(), [merchant_id])[merchant_id]


def link_refused(text: str | None) -> str | None:
    """Why `text` may not go out for the current merchant (a link, and no production
    channel of its is active), else None."""
    link = find_link(text)
    if link is None or current_allowance().production:
        return None
    return link_refusal(link)


def link_refusal(link: str) -> str:
    return f"Links are allowed only once you have an active production channel (found '{link}')."
