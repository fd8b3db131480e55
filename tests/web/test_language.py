"""Swahili as the second UI language: one click in the footer switches the dashboard, the
log-in and sign-up pages and the menu, and stays switched until switched back."""

from __future__ import annotations

from tests.web.conftest import text


def test_switching_to_swahili_changes_the_dashboards_words(client, shop):
    english = text(client.get("/dashboard"))
    assert "Recent payments" in english and "Kiswahili" in english

    answer = client.get("/language?to=sw&next=/dashboard")
    assert answer.status_code == 302 and answer.headers["Location"] == "/dashboard"
    response = client.get("/dashboard")
    swahili = text(response)
    assert 'lang="sw"' in response.get_data(as_text=True)
    for words in ("Leo", "Malipo ya karibuni", "KES 5,000 kutoka kwa John Doe", "Dashibodi",
                  "Wateja", "Toka", "pointi zimetolewa"):
        assert words in swahili, words
    assert "Recent payments" not in swahili
    assert "Recent payments" not in text(client.get("/dashboard/live"))

    client.get("/language?to=en&next=/dashboard")
    assert "Recent payments" in text(client.get("/dashboard"))


def test_a_visitor_can_log_in_and_sign_up_in_swahili(client):
    client.get("/language?to=sw&next=/login")
    login = text(client.get("/login"))
    assert "Ingia" in login and "Umesahau nenosiri?" in login
    assert "Sajili biashara yako" in text(client.get("/signup"))


def test_an_unknown_language_or_a_foreign_next_changes_nothing(client):
    answer = client.get("/language?to=fr&next=https://evil.example/")
    assert answer.headers["Location"] == "/"
    assert "Log in" in text(client.get("/login"))
    assert client.get("/language?to=sw&next=//evil.example").headers["Location"] == "/"
