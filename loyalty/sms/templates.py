"""Merchant-written SMS templates with named placeholders, rendered without str.format.

`str.format` on a merchant's text would let `{customer.__class__}` walk our objects, so
templates are checked against a fixed list of names and rendered by plain substitution.
Python's `string.Formatter().parse` reads each placeholder (so `{x!r}` and `{x:>5}` mean
what a Python user expects), but braces are matched here first so that one stray brace does
not hide the other problems in the error message.

Empty names: `{first_name}` renders "" for None, so "Hi {first_name}!" becomes "Hi !".
Callers should pass a fallback instead (FIRST_NAME_FALLBACK, or the merchant's own word):
a fallback in the value keeps the merchant's wording intact, whereas rewriting their text
("Hi there!") would need guesses about every template.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Iterator, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

ALLOWED_NAMES = (
    "first_name", "points", "balance", "program_name", "stamps_left", "reward", "merchant",
)
DEFAULT_POINTS_TEMPLATE = (
    "Hi {first_name}! You earned {points} {program_name} points. Total: {balance} points."
)
DEFAULT_STAMPS_TEMPLATE = "Thanks {first_name}! {stamps_left} more orders for {reward}."
# Sent instead of the stamps text the moment a card completes (DESIGN.md 11): the stamps
# text would say "5 more orders for free delivery" just as the delivery is earned.
DEFAULT_REWARD_TEMPLATE = "Congrats {first_name}! Your {reward} is ready."
# Reads naturally in both defaults ("Hi Customer!", "Thanks Customer!").
FIRST_NAME_FALLBACK = "Customer"

# The languages customers are texted in: English, and Swahili for those who prefer it.
LANGUAGES = ("en", "sw")
DEFAULT_LANGUAGE = "en"
# The built-in texts per language, for a program with no text of its own. Plain Kenyan
# Swahili, as the setup templates write it ("oda", "pointi"); GSM-7 letters only, so a
# Swahili receipt costs the same one segment as the English one.
DEFAULT_TEXTS = {
    "en": {"points": DEFAULT_POINTS_TEMPLATE, "stamps": DEFAULT_STAMPS_TEMPLATE,
           "reward": DEFAULT_REWARD_TEMPLATE, "first_name": FIRST_NAME_FALLBACK},
    "sw": {"points": ("Habari {first_name}! Umepata pointi {points} za {program_name}. "
                      "Jumla: pointi {balance}."),
           "stamps": "Asante {first_name}! Zimebaki oda {stamps_left} upate {reward}.",
           "reward": "Hongera {first_name}! {reward} yako iko tayari.",
           "first_name": "Mteja"},
}

_FORMATTER = string.Formatter()


class TemplateError(ValueError):
    """A template the merchant must fix; `problems` lists every fault, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("SMS template is invalid: " + "; ".join(problems))


def validate_template(text: str) -> None:
    """Raise TemplateError listing every problem in `text`; return None when it is usable."""
    problems: list[str] = []
    unknown = False
    for kind, value, position in _scan(text):
        if kind == "error":
            problems.append(value)
            continue
        if kind == "field":
            found = _field_problems(value)
            unknown = unknown or any("unknown name" in p for p in found)
            if found:
                problems.append(f"{{{value}}} at position {position}: " + ", ".join(found))
    if unknown:
        problems.append("allowed placeholders: " + ", ".join(f"{{{n}}}" for n in ALLOWED_NAMES))
    if problems:
        raise TemplateError(problems)


def render(text: str, values: Mapping[str, Any]) -> str:
    """Fill the placeholders of a valid template from `values`.

    Raises TemplateError for an invalid template and KeyError when a placeholder has no
    entry in `values` (a caller bug: pass None for "not applicable", which renders "").
    Values are inserted as text and never re-read, so a customer called "{balance}" is
    harmless. Integers, and Decimals without a fraction, get thousands separators.
    """
    out: list[str] = []
    for kind, value in _parts(text):
        if kind == "literal":
            out.append(value)
        else:
            if value not in values:
                raise KeyError(f"no value given for {{{value}}}")
            out.append(_display(values[value]))
    return "".join(out)


@lru_cache(maxsize=1024)
def _parts(text: str) -> tuple[tuple[str, str], ...]:
    """A valid template's literals and fields, worked out once per template text: every
    credited payment renders its program's template (TemplateError is never cached)."""
    validate_template(text)
    return tuple((kind, value) for kind, value, _position in _scan(text))


def _scan(text: str) -> Iterator[tuple[str, str, int]]:
    """Yield ("literal", text, pos), ("field", inner text, pos) and ("error", message, pos)."""
    i, n, literal = 0, len(text), []
    while i < n:
        ch = text[i]
        if ch in "{}" and text[i + 1 : i + 2] == ch:
            literal.append(ch)  # `{{` and `}}` are literal braces
            i += 2
            continue
        if ch == "}":
            yield "error", f"single '}}' at position {i} (write '}}}}' for a literal brace)", i
            i += 1
            continue
        if ch != "{":
            literal.append(ch)
            i += 1
            continue
        end = _closing_brace(text, i)
        if end is None:
            yield "error", f"'{{' at position {i} is never closed (write '{{{{' for a literal brace)", i
            i += 1
            continue
        if literal:
            yield "literal", "".join(literal), i
            literal = []
        yield "field", text[i + 1 : end], i
        i = end + 1
    if literal:
        yield "literal", "".join(literal), n


def _closing_brace(text: str, start: int) -> int | None:
    """Index of the `}` closing the `{` at `start`, counting nesting as str.format does."""
    depth = 0
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return None


def _field_problems(inner: str) -> list[str]:
    """Every reason the placeholder `{inner}` is not a plain allowed name."""
    try:
        parsed = list(_FORMATTER.parse("{" + inner + "}"))
    except ValueError as exc:
        return [f"malformed placeholder ({exc})"]
    if len(parsed) != 1 or parsed[0][0]:
        return ["malformed placeholder (braces inside it)"]
    _literal, field, spec, conversion = parsed[0]
    field = field or ""
    name_end = min((k for k in (field.find("."), field.find("[")) if k >= 0), default=len(field))
    name, rest = field[:name_end], field[name_end:]
    problems = []
    if not name or name.isdigit():
        problems.append("positional placeholders are not allowed; use a name such as {points}")
    elif name not in ALLOWED_NAMES:
        problems.append(f"unknown name {name!r}" + _suggestion(name))
    if "." in rest:
        problems.append(f"attribute access ({rest}) is not allowed")
    if "[" in rest:
        problems.append(f"index access ({rest}) is not allowed")
    if conversion:
        problems.append(f"conversion (!{conversion}) is not allowed")
    if spec or inner.rstrip().endswith(":"):
        problems.append(f"format spec (:{spec}) is not allowed; numbers are formatted for you")
    return problems


def _suggestion(name: str) -> str:
    cleaned = name.strip().lower()
    if cleaned in ALLOWED_NAMES:
        return f"; did you mean {{{cleaned}}}?"
    close = difflib.get_close_matches(cleaned, ALLOWED_NAMES, n=1)
    return f"; did you mean {{{close[0]}}}?" if close else ""


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, Decimal) and value.is_finite():
        if value == value.to_integral_value():
            return f"{int(value):,}"
        return f"{value:,}"
    return str(value)
