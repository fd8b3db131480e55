"""Merchant SMS templates: only named placeholders, rendered without str.format."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.sms.templates import (
    ALLOWED_NAMES,
    DEFAULT_POINTS_TEMPLATE,
    DEFAULT_STAMPS_TEMPLATE,
    FIRST_NAME_FALLBACK,
    TemplateError,
    render,
    validate_template,
)


def values(**given) -> dict:
    base = dict.fromkeys(ALLOWED_NAMES)
    base.update(given)
    return base


def problems(text: str) -> list[str]:
    with pytest.raises(TemplateError) as info:
        validate_template(text)
    return info.value.problems


def test_default_points_template_renders_the_seed_sms():
    text = render(DEFAULT_POINTS_TEMPLATE,
                  values(first_name="John", points=100, program_name="VIP", balance=2847))
    assert text == "Hi John! You earned 100 VIP points. Total: 2,847 points."


def test_default_stamps_template_renders_the_seed_sms():
    text = render(DEFAULT_STAMPS_TEMPLATE,
                  values(first_name="Mary", stamps_left=4, reward="free delivery"))
    assert text == "Thanks Mary! 4 more orders for free delivery."


def test_defaults_and_every_allowed_name_validate():
    validate_template(DEFAULT_POINTS_TEMPLATE)
    validate_template(DEFAULT_STAMPS_TEMPLATE)
    validate_template(" ".join(f"{{{name}}}" for name in ALLOWED_NAMES))


@pytest.mark.parametrize(("value", "shown"), [
    (2847, "2,847"), (1234567, "1,234,567"), (-1500, "-1,500"), (0, "0"),
    (Decimal(5000), "5,000"), (Decimal("5000.00"), "5,000"), (Decimal("1234.50"), "1,234.50"),
    (None, ""), ("Acme", "Acme"),
])
def test_numbers_get_thousands_separators(value, shown):
    assert render("Total: {balance}", values(balance=value)) == f"Total: {shown}"


def test_missing_first_name_fallback_reads_naturally():
    assert render(DEFAULT_POINTS_TEMPLATE, values(
        first_name=FIRST_NAME_FALLBACK, points=5, program_name="loyalty", balance=5,
    )) == "Hi Customer! You earned 5 loyalty points. Total: 5 points."


def test_double_braces_are_literal_braces():
    validate_template("{{points}} {points}}}")
    assert render("{{points}} = {points}}}", values(points=7)) == "{points} = 7}"


def test_values_are_inserted_literally_not_re_read():
    assert render("Hi {first_name}!", values(first_name="{balance.__class__}")) == \
        "Hi {balance.__class__}!"


def test_a_placeholder_without_a_value_is_a_caller_bug():
    with pytest.raises(KeyError, match="merchant"):
        render("From {merchant}", {"points": 1})


def test_render_refuses_an_invalid_template():
    with pytest.raises(TemplateError):
        render("{points.real}", values(points=1))


@pytest.mark.parametrize(("template", "named"), [
    ("Hi {customer}", "unknown name 'customer'"),
    ("{customer.__class__}", "attribute access (.__class__)"),
    ("{points.__class__.__mro__}", "attribute access"),
    ("{points[0]}", "index access ([0])"),
    ("{}", "positional"),
    ("{0}", "positional"),
    ("{points!r}", "conversion (!r)"),
    ("{points:>10}", "format spec (:>10)"),
    ("{points:}", "format spec"),
    ("{points:{balance}}", "format spec"),
    ("You have {points points", "'{' at position 9 is never closed"),
    ("Total: 5 }", "single '}' at position 9"),
    ("{points!}", "malformed placeholder"),
])
def test_forbidden_constructs_are_rejected_by_name(template, named):
    assert any(named in problem for problem in problems(template))


def test_every_problem_is_listed_not_just_the_first():
    found = problems("Hi {customer.name} } {points[0]} {} {balance!s} {points:,} {reward")

    text = "\n".join(found)
    for expected in ["unknown name 'customer'", "attribute access", "single '}'", "index access",
                     "positional", "conversion (!s)", "format spec (:,)", "never closed"]:
        assert expected in text
    assert found[-1].startswith("allowed placeholders: {first_name}")


def test_near_misses_get_a_suggestion():
    found = "\n".join(problems("Hi {frist_name}, {Points} { balance }"))

    assert "did you mean {first_name}?" in found
    assert "did you mean {points}?" in found
    assert "did you mean {balance}?" in found


def test_error_message_carries_the_problems():
    with pytest.raises(TemplateError, match="unknown name 'pts'"):
        validate_template("{pts}")


def test_template_error_is_a_value_error():
    assert issubclass(TemplateError, ValueError)
