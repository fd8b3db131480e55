"""API-key authentication's statements (services/merchants.py): the key's merchant, and
when the key was last used, written at most once a minute."""

from __future__ import annotations

import sqlalchemy as sa

from loyalty.db.statements import Statement
from loyalty.models import ApiKey, Merchant

_KEYS = ApiKey.__table__
_MERCHANTS = Merchant.__table__

LOOKUP = Statement(
    "api_keys.lookup",
    sa.select(_KEYS.c.id, _KEYS.c.merchant_id, _KEYS.c.revoked_at, _KEYS.c.last_used_at,
              _MERCHANTS.c.is_active)
    .join(_MERCHANTS, _MERCHANTS.c.id == _KEYS.c.merchant_id)
    .where(_KEYS.c.key_hash == sa.bindparam("key_hash")),
    doc="The key by the unique index on its SHA-256, with its merchant's standing and when "
        "it was last used.",
    cross_tenant="authentication: the key is how the merchant is found, so there is none "
                 "yet; key hashes are unique across merchants.")

TOUCH = Statement(
    "api_keys.touch",
    sa.update(_KEYS)
    .where(_KEYS.c.id == sa.bindparam("t_id"), _KEYS.c.merchant_id == sa.bindparam("t_merchant"),
           sa.or_(_KEYS.c.last_used_at.is_(None),
                  _KEYS.c.last_used_at < sa.bindparam("t_stale", type_=_KEYS.c.last_used_at.type)))
    .values(last_used_at=sa.bindparam("t_now", type_=_KEYS.c.last_used_at.type)),
    doc="Mark the key used now, unless that was written less than a minute ago (`t_stale`): "
        "processes that saw the same old time at once write it only once.",
    tenant="t_merchant")
