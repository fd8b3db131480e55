"""Redeeming points for a customer (the API's entry point over the ledger)."""

from __future__ import annotations

from typing import Any

from loyalty.services import ledger
from loyalty.services.customers import get_customer
from loyalty.services.programs import get_program
from loyalty.unit_of_work import transactional


@transactional
def redeem_points(customer_id: int, *, program: str, idempotency_key: str,
                  points: int | None = None, reward: bool = False,
                  description: str | None = None) -> tuple[dict[str, Any], bool]:
    """(redemption as a dict with the balance after it, whether it was created now).
    `reward` hands over one stamp-card reward instead of spending points."""
    customer = get_customer(customer_id)
    chosen = get_program(program)
    if reward:
        redemption, balance, created = ledger.redeem_reward(
            customer_id=customer.id, program=chosen, description=description,
            idempotency_key=idempotency_key)
    else:
        redemption, balance, created = ledger.redeem(
            customer_id=customer.id, program=chosen, points=points, description=description,
            idempotency_key=idempotency_key)
    return {"id": redemption.id, "program": chosen.code, "points": redemption.points,
            "reward": bool(redemption.rewards), "description": redemption.description,
            "idempotency_key": redemption.idempotency_key, "balance": balance.points,
            "rewards_available": balance.rewards_available,
            "created_at": redemption.created_at}, created
