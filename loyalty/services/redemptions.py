"""Redeeming points for a customer (the API's entry point over the ledger)."""

from __future__ import annotations

from typing import Any

from loyalty.services import ledger
from loyalty.services.customers import get_customer
from loyalty.services.programs import get_program
from loyalty.unit_of_work import transactional


@transactional
def redeem_points(customer_id: int, *, program: str, points: int, idempotency_key: str,
                  description: str | None = None) -> tuple[dict[str, Any], bool]:
    """(redemption as a dict with the balance after it, whether it was created now)."""
    customer = get_customer(customer_id)
    chosen = get_program(program)
    redemption, balance, created = ledger.redeem(
        customer_id=customer.id, program=chosen, points=points, description=description,
        idempotency_key=idempotency_key)
    return {"id": redemption.id, "program": chosen.code, "points": redemption.points,
            "description": redemption.description, "idempotency_key": redemption.idempotency_key,
            "balance": balance, "created_at": redemption.created_at}, created
