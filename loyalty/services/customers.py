"""Customers: enrolment by phone, and payers known only by Safaricom's hash."""

from __future__ import annotations

from types import SimpleNamespace

import sqlalchemy as sa

from loyalty.daraja.msisdn import hash_msisdn
from loyalty.errors import NotFound
from loyalty.extensions import db
from loyalty.models import Balance, Customer, LedgerEntry, LoyaltyProgram
from loyalty.models.base import utcnow
from loyalty.services.sql import insert_ignore
from loyalty.unit_of_work import transactional


def customer_by_hash(phone_hash: str, *, phone: str | None = None, first_name: str | None = None,
                     middle_name: str | None = None, last_name: str | None = None) -> Customer:
    """The merchant's customer with this phone hash, created when new (race-safe).

    Names from M-Pesa fill in what we do not know yet; they never overwrite what the
    customer or merchant entered.
    """
    insert_ignore(Customer, {"phone_hash": phone_hash, "phone": phone, "first_name": first_name,
                             "middle_name": middle_name, "last_name": last_name,
                             "sms_opt_out": False, "created_at": utcnow(), "updated_at": utcnow()},
                  ["merchant_id", "phone_hash"])
    customer = db.session.scalar(sa.select(Customer).where(Customer.phone_hash == phone_hash))
    for field, value in (("phone", phone), ("first_name", first_name),
                         ("middle_name", middle_name), ("last_name", last_name)):
        if value and not getattr(customer, field):
            setattr(customer, field, value)
    return customer


class CustomerBatch:
    """The customers of a crediting batch, found or created with one statement each.

    `load` inserts every (merchant, phone hash) not known yet, with the first payment's
    phone and names, and reads them all back; `for_payment` then fills in, payment by
    payment and in order, what the customer record still lacks, exactly as
    `customer_by_hash` does (names from M-Pesa never overwrite what is known). Changes are
    staged per payment (`keep`/`drop`, as in ledger.CreditBatch) and written by `write`.
    """

    def __init__(self) -> None:
        self.customers: dict[tuple[int, str], SimpleNamespace] = {}
        self.changed: set[tuple[int, str]] = set()
        self._staged: dict[tuple[int, str], SimpleNamespace] = {}

    def load(self, connection, wanted: dict[tuple[int, str], dict]) -> None:
        """`wanted`: (merchant_id, phone_hash) -> the first payment's phone and names."""
        if not wanted:
            return
        rows = sorted(wanted.items())  # one order for every worker
        keys = {"merchant_id": [m for (m, _), _ in rows], "phone_hash": [h for (_, h), _ in rows]}
        connection.execute(_CUSTOMER_INSERT, {
            **keys, **{name: [v.get(name) for _, v in rows] for name in _NAMES},
            "now": utcnow()})
        for row in connection.execute(_CUSTOMER_SELECT, keys):
            self.customers[(row.merchant_id, row.phone_hash)] = SimpleNamespace(**row._mapping)

    def for_payment(self, merchant_id: int, phone_hash: str, **values: str | None) -> SimpleNamespace:
        key = (merchant_id, phone_hash)
        customer = self._staged.get(key) or self.customers[key]
        updates = {f: v for f, v in values.items() if v and not getattr(customer, f)}
        if updates:
            customer = SimpleNamespace(**{**vars(customer), **updates})
            self._staged[key] = customer
        return customer

    def keep(self) -> None:
        self.customers.update(self._staged)
        self.changed.update(self._staged)
        self._staged = {}

    def drop(self) -> None:
        self._staged = {}

    def write(self, connection) -> None:
        if not self.changed:
            return
        # by id: two batches updating the same customers lock them in the same order
        changed = sorted((self.customers[key] for key in self.changed), key=lambda c: c.id)
        connection.execute(_CUSTOMER_UPDATE, {
            "id": [c.id for c in changed], "merchant_id": [c.merchant_id for c in changed],
            **{name: [getattr(c, name) for c in changed] for name in _NAMES}, "now": utcnow()})


# One statement per batch whatever its size (as in ledger.CreditBatch): each column is one
# array parameter expanded with unnest(), so the SQL text is constant and its plan kept.
_NAMES = ("phone", "first_name", "middle_name", "last_name")
# The new customers, in the order given (sorted by load); those known already are left
# alone.
_CUSTOMER_INSERT = sa.text("""
    INSERT INTO customers (merchant_id, phone_hash, phone, first_name, middle_name, last_name,
                           sms_opt_out, created_at, updated_at)
    SELECT v.merchant_id, v.phone_hash, v.phone, v.first_name, v.middle_name, v.last_name,
           false, CAST(:now AS timestamptz), CAST(:now AS timestamptz)
    FROM unnest(CAST(:merchant_id AS integer[]), CAST(:phone_hash AS text[]),
                CAST(:phone AS text[]), CAST(:first_name AS text[]),
                CAST(:middle_name AS text[]), CAST(:last_name AS text[])) WITH ORDINALITY
         AS v(merchant_id, phone_hash, phone, first_name, middle_name, last_name, n)
    ORDER BY v.n
    ON CONFLICT (merchant_id, phone_hash) DO NOTHING""")
# All of the batch's customers, new or not, matched on (merchant, phone hash).
_CUSTOMER_SELECT = sa.text("""
    SELECT c.id, c.merchant_id, c.phone_hash, c.phone, c.first_name, c.middle_name,
           c.last_name, c.sms_opt_out
    FROM customers AS c
    JOIN unnest(CAST(:merchant_id AS integer[]), CAST(:phone_hash AS text[]))
         AS v(merchant_id, phone_hash)
      ON c.merchant_id = v.merchant_id AND c.phone_hash = v.phone_hash""")
# What the batch filled in, matched on id and merchant.
_CUSTOMER_UPDATE = sa.text("""
    UPDATE customers AS c
    SET phone = v.phone, first_name = v.first_name, middle_name = v.middle_name,
        last_name = v.last_name, updated_at = CAST(:now AS timestamptz)
    FROM unnest(CAST(:id AS integer[]), CAST(:merchant_id AS integer[]),
                CAST(:phone AS text[]), CAST(:first_name AS text[]),
                CAST(:middle_name AS text[]), CAST(:last_name AS text[]))
         AS v(id, merchant_id, phone, first_name, middle_name, last_name)
    WHERE c.id = v.id AND c.merchant_id = v.merchant_id""")


@transactional
def enrol_customer(*, phone: str, first_name: str | None = None, last_name: str | None = None,
                   sms_opt_out: bool = False) -> Customer:
    """Enrol a phone (already normalised to 254…). A payer seen before only by hash is the
    same customer: enrolling claims every payment and point that came with that hash."""
    customer = customer_by_hash(hash_msisdn(phone), phone=phone)
    if first_name:
        customer.first_name = first_name
    if last_name:
        customer.last_name = last_name
    customer.sms_opt_out = sms_opt_out
    if customer.enrolled_at is None:
        customer.enrolled_at = utcnow()
    db.session.flush()
    return customer


def get_customer(customer_id: int) -> Customer:
    customer = db.session.scalar(sa.select(Customer).where(Customer.id == customer_id))
    if customer is None:
        raise NotFound("Customer not found.")
    return customer


def customer_detail(customer_id: int) -> SimpleNamespace:
    """A customer with balances per program."""
    customer = get_customer(customer_id)
    return SimpleNamespace(**{c.key: getattr(customer, c.key) for c in Customer.__table__.columns},
                           balances=balances_of(customer.id))


def list_customers(*, phone: str | None = None, limit: int = 50,
                   after_id: int | None = None) -> list[Customer]:
    """Customers newest first; `phone` (normalised) finds one by its hash."""
    query = sa.select(Customer).order_by(Customer.id.desc()).limit(limit)
    if phone:
        query = query.where(Customer.phone_hash == hash_msisdn(phone))
    if after_id:
        query = query.where(Customer.id < after_id)
    return list(db.session.scalars(query))


def balances_of(customer_id: int) -> list[dict]:
    """Points and stamps per program."""
    rows = db.session.execute(
        sa.select(LoyaltyProgram.code, LoyaltyProgram.name, Balance.points, Balance.lifetime_points,
                  Balance.stamps, LoyaltyProgram.stamps_required, Balance.rewards_earned)
        .join(LoyaltyProgram, LoyaltyProgram.id == Balance.program_id)
        .where(Balance.customer_id == customer_id).order_by(LoyaltyProgram.code)).all()
    return [dict(row._mapping) for row in rows]


def ledger_of(customer_id: int, *, limit: int = 100, before_id: int | None = None) -> list[dict]:
    get_customer(customer_id)
    query = (sa.select(LedgerEntry, LoyaltyProgram.code)
             .join(LoyaltyProgram, LoyaltyProgram.id == LedgerEntry.program_id)
             .where(LedgerEntry.customer_id == customer_id)
             .order_by(LedgerEntry.id.desc()).limit(limit))
    if before_id:
        query = query.where(LedgerEntry.id < before_id)
    return [_entry(entry, code) for entry, code in db.session.execute(query)]


def _entry(entry: LedgerEntry, program: str) -> dict:
    return {"id": entry.id, "kind": entry.kind.value, "program": program, "points": entry.points,
            "stamps": entry.stamps, "payment_id": entry.payment_id,
            "redemption_id": entry.redemption_id, "description": entry.description,
            "created_at": entry.created_at}
