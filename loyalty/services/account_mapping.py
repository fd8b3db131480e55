"""Account mapping: which loyalty program a PayBill account reference earns in.

Keys are `default`, an exact reference (`GOLD001`) or a prefix ending in `*` (`VIP*`);
values are program codes. Matching trims and ignores case: exact, then the longest
matching prefix, then `default`; with no match the merchant's default program applies.
Pure functions: the callback path calls `resolve` for every payment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

DEFAULT_KEY = "default"
# M-Pesa account numbers are up to 20 characters of free text; keep keys printable.
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _\-./#&]{0,19}$")


def normalise_mapping(mapping: Mapping[str, str], *, channel_type: str,
                      program_codes: Iterable[str]) -> dict[str, str]:
    """Check and tidy a mapping; raise ValueError with one message per problem."""
    codes = set(program_codes)
    problems: list[str] = []
    result: dict[str, str] = {}
    seen: dict[str, str] = {}
    for raw_key, raw_value in mapping.items():
        key = str(raw_key).strip()
        value = str(raw_value).strip()
        if key.lower() == DEFAULT_KEY:
            key = DEFAULT_KEY
        elif channel_type != "paybill":
            problems.append(f"'{key}': Till and Buy Goods payments carry no account reference, "
                            "so only 'default' can be mapped.")
            continue
        else:
            problem = _key_problem(key)
            if problem:
                problems.append(problem)
                continue
        folded = key.upper()
        if folded in seen:
            problems.append(f"'{key}' repeats '{seen[folded]}' (matching ignores case).")
            continue
        seen[folded] = key
        result[key] = value
    unknown = sorted({v for v in result.values() if v not in codes})
    if unknown:
        problems.append("Unknown program code(s): " + ", ".join(unknown)
                        + ". Known: " + (", ".join(sorted(codes)) or "none") + ".")
    if problems:
        raise ValueError(*problems)
    return result


def _key_problem(key: str) -> str | None:
    stem = key[:-1] if key.endswith("*") else key
    if not stem:
        return "'*' alone matches everything: use 'default' instead."
    if "*" in stem:
        return f"'{key}': '*' may only end a prefix, as in 'VIP*'."
    if not _KEY.match(stem):
        return (f"'{key}': use letters, digits, spaces or - _ . / # & (up to 20 characters, "
                "starting with a letter or digit).")
    return None


def resolve(mapping: Mapping[str, str], account_ref: str | None) -> tuple[str | None, str | None]:
    """The program code for an account reference and the key that matched.

    Returns (None, None) when nothing matches, not even `default`: the caller then uses
    the merchant's default program.
    """
    ref = (account_ref or "").strip().upper()
    if ref:
        best_key, best_len = None, -1
        for key, code in mapping.items():
            folded = key.upper()
            if key == DEFAULT_KEY:
                continue
            if folded.endswith("*"):
                stem = folded[:-1]
                if ref.startswith(stem) and len(stem) > best_len:
                    best_key, best_len = key, len(stem)
            elif folded == ref:
                return code, key
        if best_key is not None:
            return mapping[best_key], best_key
    if DEFAULT_KEY in mapping:
        return mapping[DEFAULT_KEY], DEFAULT_KEY
    return None, None
