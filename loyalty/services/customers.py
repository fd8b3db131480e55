"""Customers: enrolment by phone, and payers known only by Safaricom's hash."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from loyalty.db.inserts import insert_ignore
from loyalty.errors import Conflict, NotFound
from loyalty.extensions import db
from loyalty.models import Balance, ConsentSource, Customer, LedgerEntry, LoyaltyProgram
from loyalty.models.base import utcnow
from loyalty.phones import hash_msisdn
from loyalty.services import consent
from loyalty.services.pages import keyset_page, page_of
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
    for field, value in missing_details(customer, phone=phone, first_name=first_name,
                                        middle_name=middle_name, last_name=last_name).items():
        setattr(customer, field, value)
    return customer


def missing_details(customer, **values: str | None) -> dict[str, str]:
    """What the customer record lacks among these values (a payment's phone and names):
    they fill in what we do not know yet and never overwrite what is known."""
    return {field: value for field, value in values.items()
            if value and not getattr(customer, field)}


UNSET = object()


@transactional
def enrol_customer(*, phone: str, first_name: str | None = None, last_name: str | None = None,
                   sms_opt_out: bool | None = None, marketing_consent: bool | None = None,
                   language=UNSET, source: ConsentSource | str = ConsentSource.API) -> Customer:
    """Enrol a phone (already normalised to 254…). A payer seen before only by hash is the
    same customer: enrolling claims every payment and point that came with that hash.

    Enrolling again never changes consent (or the language) that is not sent: a customer
    who said STOP stays opted out when the cashier enrols the phone a second time."""
    customer = customer_by_hash(hash_msisdn(phone), phone=phone)
    if first_name:
        customer.first_name = first_name
    if last_name:
        customer.last_name = last_name
    if language is not UNSET:  # None: back to the merchant's default
        customer.language = language
    if customer.enrolled_at is None:
        customer.enrolled_at = utcnow()
    db.session.flush()
    consent.change(customer, source=source, sms_opt_out=sms_opt_out,
                   marketing_consent=marketing_consent)
    return customer


@transactional
def update_customer(customer_id: int, *, source: ConsentSource | str, phone=UNSET,
                    first_name=UNSET, last_name=UNSET, sms_opt_out: bool | None = None,
                    marketing_consent: bool | None = None, language=UNSET) -> Customer:
    """Correct a customer's details (DPA s.40: the right to rectification) and consent.

    A new phone moves the customer to that number's hash, so later payments from it are
    theirs; a number that is already another customer's is a 409. An erased customer has
    nothing left to correct (409)."""
    customer = get_customer(customer_id, lock=True)
    if customer.erased_at is not None:
        raise Conflict("This customer's personal data was erased.", code="customer_erased")
    if phone is not UNSET and phone != customer.phone:
        if phone is None:
            raise Conflict("A customer's phone can be replaced, not removed; erase the "
                           "customer to remove it.", code="phone_required")
        phone_hash = hash_msisdn(phone)
        taken = db.session.scalar(sa.select(Customer.id).where(
            Customer.phone_hash == phone_hash, Customer.id != customer.id))
        if taken is not None:
            raise Conflict("Another customer has this phone number.", code="phone_taken")
        customer.phone, customer.phone_hash = phone, phone_hash
        if customer.enrolled_at is None:
            customer.enrolled_at = utcnow()
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if value is not UNSET:
            setattr(customer, field, value or None)
    if language is not UNSET:
        customer.language = language
    db.session.flush()
    consent.change(customer, source=source, sms_opt_out=sms_opt_out,
                   marketing_consent=marketing_consent)
    return customer


def get_customer(customer_id: int, *, lock: bool = False) -> Customer:
    query = sa.select(Customer).where(Customer.id == customer_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    customer = db.session.scalar(query)
    if customer is None:
        raise NotFound("Customer not found.")
    return customer


def customer_detail(customer_id: int) -> SimpleNamespace:
    """A customer with balances per program and their consent history."""
    customer = get_customer(customer_id)
    return SimpleNamespace(**{c.key: getattr(customer, c.key) for c in Customer.__table__.columns},
                           balances=balances_of(customer.id),
                           consent_history=consent.history(customer.id))


def list_customers(*, phone: str | None = None, limit: int = 50,
                   after_id: int | None = None) -> list[Customer]:
    """Customers newest first; `phone` (normalised) finds one by its hash."""
    query = sa.select(Customer).order_by(Customer.id.desc()).limit(limit)
    if phone:
        query = query.where(Customer.phone_hash == hash_msisdn(phone))
    if after_id:
        query = query.where(Customer.id < after_id)
    return list(db.session.scalars(query))


def customer_page(*, phone: str | None = None, limit: int = 50,
                  cursor: int | None = None) -> dict[str, Any]:
    """The API's list: newest first, {"items", "next_cursor"}; `phone` finds one."""
    query = sa.select(Customer)
    if phone:
        query = query.where(Customer.phone_hash == hash_msisdn(phone))
    return keyset_page(query, Customer.id, limit=limit, cursor=cursor)


def balances_of(customer_id: int) -> list[dict]:
    """Points and stamps per program."""
    rows = db.session.execute(
        sa.select(LoyaltyProgram.code, LoyaltyProgram.name, Balance.points, Balance.lifetime_points,
                  Balance.stamps, LoyaltyProgram.stamps_required, Balance.rewards_earned,
                  Balance.rewards_redeemed)
        .join(LoyaltyProgram, LoyaltyProgram.id == Balance.program_id)
        .where(Balance.customer_id == customer_id).order_by(LoyaltyProgram.code)).all()
    return [{**row._mapping,
             "rewards_available": max(0, row.rewards_earned - row.rewards_redeemed)}
            for row in rows]


def ledger_of(customer_id: int, *, limit: int = 100, before_id: int | None = None) -> list[dict]:
    get_customer(customer_id)
    query = (sa.select(LedgerEntry, LoyaltyProgram.code)
             .join(LoyaltyProgram, LoyaltyProgram.id == LedgerEntry.program_id)
             .where(LedgerEntry.customer_id == customer_id)
             .order_by(LedgerEntry.id.desc()).limit(limit))
    if before_id:
        query = query.where(LedgerEntry.id < before_id)
    return [_entry(entry, code) for entry, code in db.session.execute(query)]


def ledger_page(customer_id: int, *, limit: int = 100,
                cursor: int | None = None) -> dict[str, Any]:
    """The API's list: newest first, {"items", "next_cursor"}."""
    rows = ledger_of(customer_id, limit=limit + 1, before_id=cursor)
    return page_of(rows, limit, lambda row: row["id"])


def _entry(entry: LedgerEntry, program: str) -> dict:
    return {"id": entry.id, "kind": entry.kind.value, "program": program, "points": entry.points,
            "stamps": entry.stamps, "payment_id": entry.payment_id,
            "redemption_id": entry.redemption_id, "adjustment_id": entry.adjustment_id,
            "description": entry.description,
            "created_at": entry.created_at}
