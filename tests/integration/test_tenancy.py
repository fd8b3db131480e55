"""Tenant scoping cannot be forgotten: every ORM query on tenant data is scoped or refused."""

import pytest
import sqlalchemy as sa

from loyalty.models import ApiKey, LoyaltyProgram
from loyalty.tenancy import TenantMismatch, TenantNotSet, all_merchants, tenant_context


@pytest.fixture
def two_merchants(merchant_a, merchant_b):
    return merchant_a[0]["id"], merchant_b[0]["id"]


def test_querying_tenant_data_without_a_merchant_raises(db_session, two_merchants):
    with pytest.raises(TenantNotSet):
        db_session.scalars(sa.select(LoyaltyProgram)).all()
    with pytest.raises(TenantNotSet):
        db_session.scalar(sa.select(sa.func.count(ApiKey.id)))


def test_each_merchant_sees_only_its_own_rows(db_session, two_merchants):
    a, b = two_merchants
    with tenant_context(a):
        assert {p.merchant_id for p in db_session.scalars(sa.select(LoyaltyProgram))} == {a}
        assert db_session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 1
        b_program = db_session.scalar(
            sa.select(LoyaltyProgram.id).where(LoyaltyProgram.merchant_id == b))
        assert b_program is None
    with all_merchants():
        assert {p.merchant_id for p in db_session.scalars(sa.select(LoyaltyProgram))} == {a, b}


def test_get_by_primary_key_of_another_merchant_finds_nothing(db_session, two_merchants):
    a, b = two_merchants
    with all_merchants():
        b_id = db_session.scalar(sa.select(LoyaltyProgram.id).where(LoyaltyProgram.merchant_id == b))
    db_session.expunge_all()
    with tenant_context(a):
        assert db_session.get(LoyaltyProgram, b_id) is None


def test_orm_update_and_delete_are_scoped(db_session, two_merchants):
    a, b = two_merchants
    with tenant_context(a):
        db_session.execute(sa.update(LoyaltyProgram).values(name="Renamed"))
        db_session.execute(sa.delete(ApiKey))
    with all_merchants():
        names = dict(db_session.execute(sa.select(LoyaltyProgram.merchant_id, LoyaltyProgram.name)).all())
        keys = db_session.scalars(sa.select(ApiKey.merchant_id)).all()
    assert names == {a: "Renamed", b: "Loyalty"}
    assert keys == [b]


def test_new_rows_are_stamped_with_the_current_merchant(db_session, two_merchants):
    a, _ = two_merchants
    with tenant_context(a):
        program = LoyaltyProgram(code="vip", name="VIP")
        db_session.add(program)
        db_session.flush()
    assert program.merchant_id == a


def test_saving_a_row_without_a_merchant_raises(db_session, two_merchants):
    db_session.add(LoyaltyProgram(code="vip", name="VIP"))
    with pytest.raises(TenantNotSet):
        db_session.flush()
    db_session.rollback()


def test_writing_another_merchants_row_raises(db_session, two_merchants):
    a, b = two_merchants
    with tenant_context(a):
        db_session.add(LoyaltyProgram(code="vip", name="VIP", merchant_id=b))
        with pytest.raises(TenantMismatch):
            db_session.flush()
    db_session.rollback()


def test_tenant_tables_in_from_joins_and_subqueries_are_scoped(db_session, two_merchants):
    from loyalty.models import Merchant

    a, _ = two_merchants
    counts = sa.select(sa.func.count()).select_from(ApiKey)
    joined = sa.select(Merchant.id).join(ApiKey, ApiKey.merchant_id == Merchant.id)
    nested = sa.select(Merchant.id).where(Merchant.id.in_(sa.select(ApiKey.merchant_id)))
    for statement in (counts, joined, nested):
        with pytest.raises(TenantNotSet):
            db_session.execute(statement).all()
    with tenant_context(a):
        assert db_session.scalar(counts) == 1
        assert db_session.scalars(joined).all() == [a]
        assert db_session.scalars(nested).all() == [a]
