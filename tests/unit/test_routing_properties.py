"""Property tests for account-reference routing and the points formula."""

from decimal import ROUND_FLOOR, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.services.account_mapping import normalise_mapping, resolve
from loyalty.services.crediting.rules import points_for

REF_CHARS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-",
                    min_size=1, max_size=12)


def test_documented_examples():
    assert points_for(Decimal("5000"), points_per_unit=1, unit_amount=Decimal("100"),
                      multiplier=Decimal("2")) == 100
    assert points_for(Decimal("1234.50"), points_per_unit=1, unit_amount=Decimal("100")) == 12
    assert points_for(Decimal("99.99"), points_per_unit=1, unit_amount=Decimal("100")) == 0
    assert points_for(Decimal("500"), points_per_unit=1, unit_amount=Decimal("100"),
                      min_amount=Decimal("501")) == 0


@given(amount=st.decimals(min_value=0, max_value=500000, places=2),
       per_unit=st.integers(0, 50), unit=st.decimals(min_value=1, max_value=10000, places=2),
       multiplier=st.decimals(min_value=0, max_value=10, places=2))
def test_points_are_the_floor_of_the_exact_decimal_product(amount, per_unit, unit, multiplier):
    points = points_for(amount, points_per_unit=per_unit, unit_amount=unit, multiplier=multiplier)
    exact = amount * per_unit * multiplier / unit
    assert isinstance(points, int)
    assert points == int(exact.to_integral_value(rounding=ROUND_FLOOR))
    assert points <= exact < points + 1


@given(amount=st.decimals(min_value=1, max_value=250000, places=2),
       extra=st.decimals(min_value=0, max_value=1000, places=2))
def test_paying_more_never_earns_fewer_points(amount, extra):
    kwargs = dict(points_per_unit=3, unit_amount=Decimal("100"), multiplier=Decimal("1.5"))
    assert points_for(amount + extra, **kwargs) >= points_for(amount, **kwargs)


@given(stem=REF_CHARS, suffix=st.text(alphabet="0123456789XYZ", max_size=6),
       padding=st.sampled_from(["", " ", "  "]), upper=st.booleans())
def test_prefix_matches_ignore_case_and_surrounding_spaces(stem, suffix, padding, upper):
    mapping = {"default": "loyalty", f"{stem}*": "vip"}
    reference = stem + suffix
    reference = reference.upper() if upper else reference.lower()
    assert resolve(mapping, padding + reference + padding) == ("vip", f"{stem}*")


@given(short=REF_CHARS, more=st.text(alphabet="ABC123", min_size=1, max_size=5))
def test_longest_prefix_wins_and_exact_beats_prefixes(short, more):
    longer = short + more
    mapping = {f"{short}*": "short", f"{longer}*": "long", longer + "9": "exact"}
    assert resolve(mapping, longer + "1")[0] == "long"
    assert resolve(mapping, longer + "9")[0] == "exact"
    assert resolve(mapping, short)[0] == "short"


@given(reference=st.text(max_size=20))
def test_unmatched_references_fall_back_to_default_or_nothing(reference):
    assert resolve({"default": "loyalty"}, reference) in (("loyalty", "default"),)
    assert resolve({}, reference) == (None, None)


def test_mapping_validation_lists_every_problem():
    with pytest.raises(ValueError) as caught:
        normalise_mapping({"VIP*": "vip", "vip*": "loyalty", "A*B": "loyalty", "*": "x"},
                          channel_type="paybill", program_codes={"loyalty"})
    problems = caught.value.args
    assert any("repeats" in p for p in problems)
    assert any("'*' may only end" in p for p in problems)
    assert any("Unknown program code(s): vip." in p for p in problems)
    assert any("alone matches everything" in p for p in problems)
