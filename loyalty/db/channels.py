"""The callback path's one read: a channel by its callback token (services/ingest.py)."""

from __future__ import annotations

import sqlalchemy as sa

from loyalty.db.statements import Statement
from loyalty.models import MpesaChannel

_CHANNELS = MpesaChannel.__table__

ROUTE = Statement(
    "channels.route",
    sa.select(_CHANNELS.c.id, _CHANNELS.c.merchant_id, _CHANNELS.c.shortcode,
              _CHANNELS.c.store_number, _CHANNELS.c.channel_type, _CHANNELS.c.account_mapping,
              _CHANNELS.c.validation_policy, _CHANNELS.c.callback_token,
              _CHANNELS.c.previous_token_expires_at)
    .where(sa.or_(_CHANNELS.c.callback_token == sa.bindparam("token"),
                  sa.and_(_CHANNELS.c.previous_callback_token == sa.bindparam("token"),
                          _CHANNELS.c.previous_token_expires_at > sa.bindparam(
                              "now", type_=_CHANNELS.c.previous_token_expires_at.type))),
           _CHANNELS.c.archived_at.is_(None)),
    doc="What routing a callback needs, by the unique token indexes (the current token, or "
        "the previous one until its grace ends at `now`): only these columns, so no "
        "encrypted column is decrypted.",
    cross_tenant="the token in Safaricom's callback URL is how the merchant is found, so "
                 "there is no merchant yet; the tokens are unique across merchants.")
