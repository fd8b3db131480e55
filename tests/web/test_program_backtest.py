"""The program page's "What would this change have cost last month?"."""

from tests.web.conftest import text

RULE = {"name": "VIP", "points_per_unit": "1", "unit_amount": "100", "min_amount": "0"}


def test_the_edit_page_backtests_the_programs_own_rule(client, shop):
    page = text(client.get("/programs/vip/edit"))
    assert "What would this change have cost last month?" in page
    assert "In the last 30 days 1 payment from 1 customer earned 100 points." in page
    assert "With these rules they would have earned the same points." in page
    assert "Every receipt text would have said the same." in page


def test_check_without_javascript_shows_the_typed_rule_and_saves_nothing(client, shop):
    response = client.post("/programs/vip/edit", data={**RULE, "multiplier": "3", "check": "1"})
    assert response.status_code == 200
    page = text(response)
    assert "With these rules: 150 points, 50 more points." in page
    assert "1 receipt text would have said something different." in page
    assert 'value="3"' in response.get_data(as_text=True)  # the form keeps what was typed
    saved = shop.api("GET", "/programs/vip").get_json()
    assert saved["multiplier"] == "2.00"


def test_the_script_asks_as_the_merchant_types(client, shop):
    lines = client.get("/programs/vip/backtest.json", query_string={
        **RULE, "multiplier": "1", "min_amount": "6000"}).get_json()["lines"]
    assert "With these rules: 0 points, 100 fewer points." in lines
    # Half-typed values keep the program's own rule instead of failing.
    same = client.get("/programs/vip/backtest.json", query_string={
        "multiplier": "abc", "unit_amount": "", "points_per_unit": "1.5.5"}).get_json()["lines"]
    assert "With these rules they would have earned the same points." in same
    assert client.get("/programs/nope/backtest.json").status_code == 404
