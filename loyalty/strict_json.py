"""JSON as the app accepts it from strangers: what PostgreSQL and the schemas can hold.

Python's json module takes things the database cannot store or the schemas were never
meant to see: `NaN` and `Infinity`, `1e400` (read as infinity), integers of any length,
a NUL character (PostgreSQL text refuses it), a lone surrogate such as "\\udbde" (not
encodable as UTF-8), nesting deep enough to exhaust the parser's recursion. Each of these
used to end in a 500 somewhere. `loads` refuses them up front with the path of the value
at fault, so the callback path can answer 400 and the API 422, naming the field.

A leaf: plain Python, used by daraja/callbacks.py and the API's input guard alike.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Far above any amount (NUMERIC(14, 2)), id or Daraja number (a TransTime read as a number
# is about 2e13), and below 2**53, where JSON numbers stop being exact.
LARGEST = 10**15
MAX_DEPTH = 32


class StrictJsonError(ValueError):
    """The text is not JSON we accept; `field` is the dotted path of the value at fault
    (None when the text as a whole is not JSON)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads(raw: bytes | str) -> Any:
    """Parse JSON text; StrictJsonError on malformed text or any value `problem` finds.

    The walk that names the culprit runs only when the text may hold one: a NUL or a
    surrogate is written as a \\u escape (json refuses a raw control character in a string;
    raw surrogate bytes are not UTF-8), and numbers are seen by json's own hooks. Most bodies
    (every well-formed confirmation) skip it."""
    numbers_ok = [True]

    def parse_int(literal: str) -> int:
        if len(literal.lstrip("-")) > len(str(LARGEST)):
            numbers_ok[0] = False
        return int(literal)

    def parse_float(literal: str) -> float:
        number = float(literal)
        if not (math.isfinite(number) and abs(number) <= LARGEST):
            numbers_ok[0] = False
        return number

    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        text = None  # json's own decoding lets encoded surrogates through: walk it
    try:
        value = json.loads(raw if text is None else text, parse_constant=_no_constants,
                           parse_int=parse_int, parse_float=parse_float)
    except RecursionError:
        raise StrictJsonError("The body is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError):
        raise StrictJsonError("The body is not valid JSON.") from None
    if numbers_ok[0] and text is not None and "\\u" not in text \
            and text.count("[") + text.count("{") <= MAX_DEPTH:
        return value
    found = problem(value)
    if found is not None:
        path, reason = found
        raise StrictJsonError(f"{path or 'the body'} {reason}.", field=path or None)
    return value


def problem(value: Any) -> tuple[str, str] | None:
    """(dotted path, reason) of the first value that cannot be stored, else None."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return path, "is nested too deeply"
        if isinstance(item, str):
            reason = text_problem(item)
            if reason:
                return path, reason
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, float):
            if not math.isfinite(item):
                return path, "must be a finite number"
            if abs(item) > LARGEST:
                return path, "is out of range"
        elif isinstance(item, int):
            if abs(item) > LARGEST:
                return path, "is out of range"
        elif isinstance(item, dict):
            for key, inner in item.items():
                child = f"{path}.{key}" if path else str(key)
                reason = text_problem(key)
                if reason:
                    return path or "the body", f"has a key that {reason}"
                stack.append((child, inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((f"{path}.{index}" if path else str(index), inner, depth + 1)
                         for index, inner in enumerate(item))
    return None


def text_problem(text: str) -> str | None:
    """Why PostgreSQL could not store this text, else None."""
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (a lone surrogate)"
    return None
