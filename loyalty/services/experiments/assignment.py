"""Which variant a payer is in, and the program as that variant's rule sees it.

The unit is the payer: key = HMAC-SHA256(merchant secret, phone hash). Both crediting paths
reach a payer through `rules.payer`, which hashes a plain (STK, or C2B v1) number with
phones.hash_msisdn exactly as Safaricom hashes C2B payers, so a hashed C2B payer and the same
phone paying by STK give one phone hash, hence one key. The key, not the phone hash, is
stored: an assignments table does not become a list of phone hashes to match elsewhere.

The merchant secret is derived (HMAC of SECRET_KEY's "experiment-unit" key and the merchant
id) rather than stored encrypted: nothing to migrate, back up or leak per merchant, and keys
of two merchants never match. The price: changing SECRET_KEY re-keys every payer, so a
running experiment would count returning payers as new (stop experiments before rotating it).

bucket = HMAC(experiment salt, key) mod 10,000 over the split's cumulative percentages. It is
a pure function of the key and of the experiment's salt and split, which never change after
creation, so the variant found on the batch path in memory is the one stored on the first
eligible payment, and the same on every later one.
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable

from flask import current_app

from loyalty.crypto import derive_key

BUCKETS = 10_000
RULE_FIELDS = ("points_per_unit", "unit_amount", "multiplier", "min_amount", "stamps_required")


@lru_cache(maxsize=4096)
def _merchant_secret(secret_key: str, merchant_id: int) -> bytes:
    return hmac.new(derive_key("experiment-unit", secret_key), str(merchant_id).encode(),
                    hashlib.sha256).digest()


def unit_key(merchant_id: int, phone_hash: str) -> str:
    secret = _merchant_secret(current_app.config["SECRET_KEY"], merchant_id)
    return hmac.new(secret, phone_hash.lower().encode("ascii"), hashlib.sha256).hexdigest()


def bucket(salt: str, key: str) -> int:
    digest = hmac.new(salt.encode("ascii"), key.encode("ascii"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def variant_of(experiment, key: str) -> dict[str, Any]:
    """The variant ({"key", "rule"}) whose share of the 10,000 buckets holds this payer."""
    point, edge = bucket(experiment.salt, key), 0
    for variant, percent in zip(experiment.variants, experiment.split, strict=True):
        edge += percent * BUCKETS // 100
        if point < edge:
            return variant
    return experiment.variants[-1]


def eligible(experiment, payment) -> bool:
    """The experiment's channel filter (the program was matched by routing)."""
    return not experiment.channel_ids or payment.channel_id in experiment.channel_ids


class VariantProgram:
    """A program as one variant sees it: the rule's fields overridden, everything else
    (name, templates, reward, id) the program's own, so the receipt stays the program's."""

    def __init__(self, program, experiment_id: int, variant: str, rule: dict[str, Any],
                 unit: str) -> None:
        self._program, self._rule = program, rule
        self.experiment_id, self.variant, self.unit_key = experiment_id, variant, unit

    def __getattr__(self, name: str):
        if name in self._rule:
            return self._rule[name]
        return getattr(self._program, name)


def hook(running: dict[int, Any], payer_of: Callable[[Any], tuple[str, str | None] | None]
         ) -> Callable[[Any, Any], Any]:
    """rules.settle's `variant_for`: `running` maps program id → its running experiment
    (plain values: experiments.running_by_program); masked payers keep the program."""
    def variant_for(payment, program):
        experiment = running.get(program.id)
        if experiment is None or not eligible(experiment, payment):
            return program
        payer = payer_of(payment)
        if payer is None:
            return program  # masked: excluded (results count them from the payments)
        key = unit_key(payment.merchant_id, payer[0])
        chosen = variant_of(experiment, key)
        rule = {name: (Decimal(str(value)) if name in ("unit_amount", "multiplier",
                                                       "min_amount") else value)
                for name, value in chosen["rule"].items()}
        return VariantProgram(program, experiment.id, chosen["key"], rule, key)

    return variant_for


def assignment_row(program, payment, customer_id: int) -> dict[str, Any] | None:
    """The experiment_assignments row of a payment credited under a variant, else None
    (`first_paid_at`: the payment's time; the batch's statement reads it from the row)."""
    if not isinstance(program, VariantProgram):
        return None
    return {"experiment_id": program.experiment_id, "unit_key": program.unit_key,
            "variant": program.variant, "customer_id": customer_id, "payment_id": payment.id,
            "first_paid_at": getattr(payment, "trans_time", None)}
