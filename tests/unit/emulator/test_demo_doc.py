"""docs/DEMO.md names the emulator's STK outcomes as the control API spells them: a reader
who copies `"outcome": "cancelled"` would get a 400."""

from __future__ import annotations

import re
from pathlib import Path

from loyalty.emulator.payloads import STK_RESULTS

DEMO = (Path(__file__).resolve().parents[3] / "docs" / "DEMO.md").read_text()


def _table_rows() -> dict[str, str]:
    """The outcomes table: `name` -> its ResultCode column."""
    table = DEMO[DEMO.index("| `outcome` | ResultCode |"):].split("\n\n")[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (\S+) \|", table, flags=re.M)
    return dict(rows[1:])  # the first is the header


def test_every_outcome_the_demo_sends_is_one_the_emulator_knows():
    sent = re.findall(r'"outcome":\s*"([^"]+)"', DEMO)
    assert sent, "DEMO.md shows no stk-outcome call"
    assert set(sent) <= set(STK_RESULTS), set(sent) - set(STK_RESULTS)


def test_the_outcomes_table_lists_exactly_the_emulators_outcomes_and_codes():
    rows = _table_rows()
    assert set(rows) == set(STK_RESULTS)
    assert {name: int(code) for name, code in rows.items()} == {
        name: code for name, (code, _) in STK_RESULTS.items()}


def test_the_control_api_refuses_a_name_the_docs_might_have_guessed(emu_client):
    refused = emu_client.post("/_emulator/control/stk-outcome", json={"outcome": "cancelled"})
    assert refused.status_code == 400
    assert all(name in refused.get_json()["error"] for name in STK_RESULTS)
    assert emu_client.post("/_emulator/control/stk-outcome",
                           json={"outcome": "cancel"}).status_code == 200
