"""Adjusting a customer's points by hand (the API's entry point over the ledger)."""

from __future__ import annotations

from typing import Any

from loyalty.services import ledger
from loyalty.services.customers import get_customer
from loyalty.services.programs import get_program
from loyalty.unit_of_work import transactional


@transactional
def adjust_points(customer_id: int, *, program: str, points: int, reason: str,
                  idempotency_key: str) -> tuple[dict[str, Any], bool]:
    """(adjustment as a dict with the balance after it, whether it was created now)."""
    customer = get_customer(customer_id)
    chosen = get_program(program)
    adjustment, balance, created = ledger.adjust(
        customer_id=customer.id, program=chosen, points=points, reason=reason,
        idempotency_key=idempotency_key)
    return {"id": adjustment.id, "program": chosen.code, "points": adjustment.points,
            "reason": adjustment.reason, "idempotency_key": adjustment.idempotency_key,
            "balance": balance, "created_at": adjustment.created_at}, created
