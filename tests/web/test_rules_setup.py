"""Set-up order on the account-rules page: a program can be created there, the empty row is
plainly "add a rule" (not a rule), and the default program is chosen in one place."""

import re

from tests.web.conftest import text


def _selected_program(html: str, row: int) -> str:
    select = re.search(rf'<select[^>]*name="rows-{row}-program".*?</select>', html, re.S).group(0)
    chosen = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', select)
    return next(value for value in chosen.groups() if value is not None) if chosen else ""


def test_the_empty_row_is_an_add_a_rule_row_that_picks_no_program(client, shop):
    mapping = f"/channels/{shop.channel['id']}/mapping"
    html = client.get(mapping).get_data(as_text=True)
    assert html.count('class="new-rule"') == 1 and "Add a rule" in html
    assert _selected_program(html, 2) == ""  # the two saved rules are rows 0 and 1
    assert 'name="rows-3-pattern"' not in html
    response = client.post(mapping, data={"rows-0-pattern": "default", "rows-0-program": "loyalty",
                                          "rows-1-pattern": "GOLD*", "rows-1-program": ""})
    assert response.status_code == 422
    assert "Choose a program for this rule." in text(response)


def test_a_program_is_created_from_the_rules_page_and_offered_at_once(client, shop):
    mapping = f"/channels/{shop.channel['id']}/mapping"
    refused = client.post(f"{mapping}/programs", data={"code": "", "name": "",
                                                       "points_per_unit": "1", "unit_amount": "100"})
    assert refused.status_code == 422
    page = text(refused)
    assert "Please correct the fields marked below." in page and "Account rules for" in page
    created = client.post(f"{mapping}/programs", data={"code": "gold", "name": "Gold",
                                                       "points_per_unit": "2", "unit_amount": "100"})
    assert created.status_code == 302 and created.headers["Location"].endswith(mapping)
    page = text(client.get(mapping))
    assert "Program 'Gold' created: choose it for a rule below." in page
    assert "Gold (gold)" in page


def test_the_default_program_is_chosen_on_the_programs_page_only(client, shop):
    assert "Default program" not in text(client.get("/programs/vip/edit"))  # no checkbox
    assert "Make default" in text(client.get("/programs"))
    response = client.post("/programs/vip/default")
    assert response.status_code == 302
    page = text(client.get("/programs"))
    assert "'VIP' is now the default program" in page
    mapping = text(client.get(f"/channels/{shop.channel['id']}/mapping"))
    assert "earn in the default program, VIP" in mapping
