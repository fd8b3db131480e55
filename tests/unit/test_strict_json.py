"""JSON from strangers: only what PostgreSQL and the schemas can hold, the culprit named."""

import pytest

from loyalty.strict_json import LARGEST, StrictJsonError, loads, problem


@pytest.mark.parametrize("raw, field", [
    ('{"name": "a\\u0000b"}', "name"),
    ('{"name": "\\udbde"}', "name"),
    ('{"items": [{"note": "\\ud800x"}]}', "items.0.note"),
    ('{"amount": 1e400}', "amount"),
    ('{"amount": -1e400}', "amount"),
    ('{"id": 10000000000000000000000}', "id"),
    ('{"amount": 1E+20}', "amount"),
    ('{"a": {"b\\u0000": 1}}', "a"),
])
def test_values_the_database_cannot_hold_are_refused_by_path(raw, field):
    with pytest.raises(StrictJsonError) as caught:
        loads(raw)
    assert caught.value.field == field
    assert caught.value.message.startswith(field)


@pytest.mark.parametrize("raw", ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', "{nope",
                                 b"\xff\xfe", "[" * 100_000, "1" * 5000])
def test_what_is_not_json_or_too_deep_is_refused_without_a_field(raw):
    with pytest.raises(StrictJsonError) as caught:
        loads(raw)
    assert caught.value.field is None


def test_nesting_is_bounded():
    with pytest.raises(StrictJsonError, match="nested too deeply"):
        loads("[" * 40 + "]" * 40)


def test_ordinary_bodies_pass_untouched():
    body = '{"TransTime": 20191122063845, "MSISDN": 254708374149, "amount": "10.00", ' \
           '"ok": [true, null, 1.5, "Wanjikũ 🙂"]}'
    assert loads(body)["ok"][3] == "Wanjikũ 🙂"
    assert problem(LARGEST) is None and problem(LARGEST + 1) == ("", "is out of range")


@pytest.mark.parametrize("raw", [b'{"a": "\xed\xa0\x80"}', '{"a": 1.5e15}', '{"a": 12345678901234567}'])
def test_the_shortcut_for_ordinary_bodies_misses_nothing(raw):
    """Encoded surrogate bytes and numbers past LARGEST without a \\u escape still walk."""
    with pytest.raises(StrictJsonError) as caught:
        loads(raw)
    assert caught.value.field == "a"
