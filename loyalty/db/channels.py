"""The callback path's reads of channels by callback token (services/ingest.py)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from loyalty.db.statements import Statement
from loyalty.models import MpesaChannel

_CHANNELS = MpesaChannel.__table__
# Only what routing needs, so no encrypted column is decrypted.
_ROUTING = (_CHANNELS.c.id, _CHANNELS.c.merchant_id, _CHANNELS.c.shortcode,
            _CHANNELS.c.store_number, _CHANNELS.c.channel_type, _CHANNELS.c.account_mapping,
            _CHANNELS.c.validation_policy, _CHANNELS.c.callback_token,
            _CHANNELS.c.previous_token_expires_at)
_IN_GRACE = _CHANNELS.c.previous_token_expires_at > sa.bindparam(
    "now", type_=_CHANNELS.c.previous_token_expires_at.type)

ROUTE = Statement(
    "channels.route",
    sa.select(*_ROUTING)
    .where(sa.or_(_CHANNELS.c.callback_token == sa.bindparam("token"),
                  sa.and_(_CHANNELS.c.previous_callback_token == sa.bindparam("token"),
                          _IN_GRACE)),
           _CHANNELS.c.archived_at.is_(None)),
    doc="What routing a callback needs, by the unique token indexes (the current token, or "
        "the previous one until its grace ends at `now`): only these columns, so no "
        "encrypted column is decrypted.",
    cross_tenant="the token in Safaricom's callback URL is how the merchant is found, so "
                 "there is no merchant yet; the tokens are unique across merchants.")

# The route table (services/route_table.py) is kept in buckets of channel ids, each with a
# digest of its routing columns: a process reads again only the buckets whose digest moved.
ROUTE_BUCKET = 1024
_BUCKET_OF = _CHANNELS.c.id // sa.literal_column(str(ROUTE_BUCKET), sa.Integer)
_BUCKET = _BUCKET_OF.label("bucket")
_GRACE_TOKEN = sa.case((_IN_GRACE, _CHANNELS.c.previous_callback_token))
_LIVE = _CHANNELS.c.archived_at.is_(None)

ROUTE_DIGESTS = Statement(
    "channels.route_digests",
    sa.select(_BUCKET, sa.func.count().label("channels"),
              sa.func.md5(sa.func.string_agg(
                  sa.func.concat_ws("|", _CHANNELS.c.id, _CHANNELS.c.merchant_id,
                                    _CHANNELS.c.shortcode, _CHANNELS.c.store_number,
                                    _CHANNELS.c.channel_type, _CHANNELS.c.validation_policy,
                                    _CHANNELS.c.callback_token,
                                    sa.cast(_CHANNELS.c.account_mapping, sa.Text),
                                    _GRACE_TOKEN, sa.case((_IN_GRACE, sa.cast(
                                        _CHANNELS.c.previous_token_expires_at, sa.Text)))),
                  # string_agg(row, ',' ORDER BY id): the separator carries the order
                  aggregate_order_by(sa.literal_column("','"), _CHANNELS.c.id))).label("digest"))
    .where(_LIVE).group_by(_BUCKET_OF),
    doc="PostgreSQL only: per bucket of ROUTE_BUCKET channel ids, how many channels are "
        "not archived and a digest of what routing needs of them (a previous token only "
        "while its grace lasts at `now`): one small row per bucket, so a callback process "
        "can tell which buckets changed without reading every channel.",
    cross_tenant="a callback process answers Safaricom for every merchant, before it knows "
                 "which merchant a callback is for.")

ROUTES = Statement(
    "channels.routes",
    sa.select(_BUCKET, _CHANNELS.c.id, _CHANNELS.c.merchant_id, _CHANNELS.c.shortcode,
              _CHANNELS.c.store_number, _CHANNELS.c.channel_type, _CHANNELS.c.validation_policy,
              _CHANNELS.c.callback_token, _CHANNELS.c.previous_token_expires_at,
              sa.cast(_CHANNELS.c.account_mapping, sa.Text).label("mapping_json"),
              _GRACE_TOKEN.label("grace_token"))
    .where(_LIVE, sa.or_(sa.bindparam("every_bucket", type_=sa.Boolean),
                         _BUCKET_OF.in_(
                             sa.bindparam("buckets", expanding=True))))
    .limit(sa.bindparam("limit")),
    doc="What routing a callback needs for the channels that are not archived, in the "
        "given buckets of channel ids (or `every_bucket`), at most `limit` of them: the "
        "current token, and as `grace_token` the previous one while its grace lasts at "
        "`now`; the account mapping as its JSON text, parsed only for the token a "
        "callback needs.",
    cross_tenant="a callback process answers Safaricom for every merchant, before it knows "
                 "which merchant a callback is for.")
