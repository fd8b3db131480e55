"""Rule tests on the web: plan one, see a refused plan's numbers, start it, read the chart."""

import re

import sqlalchemy as sa

from tests.integration.experiment_history import assign, seed_history
from tests.web.conftest import text

FORM = {"name": "1.5x points", "program": "loyalty", "channel": "", "multiplier": "1.5",
        "share_b": "50", "days": "30", "effect": "10", "method": "sequential"}


def test_plan_start_and_read_a_rule_test(client, db_session, shop):
    seed_history(db_session, shop, payers=2000, repeat_percent=30)
    created = client.post("/experiments/new", data=FORM)
    assert created.status_code == 302, text(created)[:400]
    experiment_id = int(created.headers["Location"].rstrip("/").split("/")[-1])
    page = text(client.get(created.headers["Location"]))
    assert "the program's own rule" in page and "multiplier 1.5" in page
    started = client.post(f"/experiments/{experiment_id}/start", follow_redirects=True)
    assert "Test started" in text(started)
    assign(db_session, shop, experiment_id, variant="A", count=100, days_ago=40,
           repeat_percent=20)
    assign(db_session, shop, experiment_id, variant="B", count=100, days_ago=40,
           repeat_percent=40)
    html = client.get(f"/experiments/{experiment_id}").get_data(as_text=True)
    assert html.count('class="interval"') == 2 and html.count('class="rate-dot"') == 2
    assert "20.0%" in html and "40.0%" in html
    assert "<script" not in html.split("</header>")[-1].split("<footer")[0]
    assert "style=" not in html
    listed = text(client.get("/experiments"))
    assert "1.5x points" in listed and "running" in listed


def test_a_refused_plan_shows_its_numbers_next_to_the_form(client, db_session, shop):
    seed_history(db_session, shop, payers=2000, repeat_percent=30)
    refused = client.post("/experiments/new", data={**FORM, "effect": "1"})
    assert refused.status_code == 422
    page = text(refused)
    assert "more than 12 weeks" in page and "could be measured in 12 weeks" in page
    assert re.search(r"about [\d.]+ new customers pay each week", page)
    assert db_session.execute(sa.text("SELECT count(*) FROM experiments")).scalar() == 0


def test_bad_numbers_are_named_on_the_form(client, shop):
    refused = client.post("/experiments/new", data={**FORM, "share_b": "abc", "days": "400"})
    assert refused.status_code == 422
    page = text(refused)
    assert "Must be" in page
