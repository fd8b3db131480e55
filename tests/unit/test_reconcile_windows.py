"""Which windows Pull Transactions can answer (pure rules)."""

from datetime import UTC, datetime, timedelta

import pytest

from loyalty.errors import ValidationFailed
from loyalty.services.reconciliation.windows import reconcile_window

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_the_default_is_the_last_24_hours():
    assert reconcile_window(NOW) == (NOW - 24 * H, NOW)


def test_only_a_start_runs_24_hours_or_up_to_now():
    assert reconcile_window(NOW, since=NOW - 30 * H) == (NOW - 30 * H, NOW - 6 * H)
    assert reconcile_window(NOW, since=NOW - 2 * H) == (NOW - 2 * H, NOW)


def test_only_an_end_starts_24_hours_before_it_but_never_beyond_48():
    assert reconcile_window(NOW, until=NOW - 2 * H) == (NOW - 26 * H, NOW - 2 * H)
    assert reconcile_window(NOW, until=NOW - 40 * H) == (NOW - 48 * H, NOW - 40 * H)


def test_a_full_48_hours_is_allowed():
    assert reconcile_window(NOW, NOW - 48 * H, NOW) == (NOW - 48 * H, NOW)


@pytest.mark.parametrize("since, until, fields", [
    (NOW - 72 * H, NOW, {"from", "to"}),
    (NOW - 48.5 * H, NOW, {"from", "to"}),
    (NOW - 10 * H, NOW + H, {"to"}),
    (NOW + H, NOW + 2 * H, {"from", "to"}),
    (NOW - H, NOW - 2 * H, {"from"}),
    (NOW - H, NOW - H, {"from"}),
    (datetime(1, 1, 1, tzinfo=UTC), None, {"from"}),
    (None, datetime(9999, 12, 31, tzinfo=UTC), {"to"}),
    (datetime(9999, 12, 31, tzinfo=UTC), None, {"from"}),
])
def test_windows_pull_cannot_answer_name_the_field(since, until, fields):
    with pytest.raises(ValidationFailed) as refused:
        reconcile_window(NOW, since, until)
    assert set(refused.value.fields) == fields
