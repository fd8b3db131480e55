"""Every merchant page in Swahili: a shop owner who switched the language reads no English
page text, form label, hint or error message in the page's main part.

The check is a list of common English words a translated page has no reason to show. What
the merchant or the customer typed (names, SMS texts, account references) and what
Safaricom's portal calls things (Consumer key, My Apps, PayBill) are theirs and stay: text
inside <code>, <pre>, the SMS bubbles (.sms) and the fields' current values is left out,
and the words chosen are not in those names.
"""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from loyalty.models.base import utcnow
from loyalty.services.payments import EAT
from tests.web.test_plain_visits import _seeded

# English words every untranslated sentence is full of, none of them Swahili or an M-Pesa
# term. "to", "no", "on" and "all" are left out: too short to tell from names and codes.
ENGLISH = re.compile(
    r"\b(the|and|your|with|payments?|customers?|points?|save|cancel|edit|status|amount|"
    r"when|yet|this|for|every|not|is|are|been|will|here|there|first|next|please|"
    r"channels?|programs?|rules?|texts?|settings|keys?|add|new|find|try)\b",
    re.IGNORECASE)
# Kept as they are: the portal's and Safaricom's names, and this test's own data.
NAMES = re.compile(
    r"Consumer key|Consumer secret|My Apps|Create New App|Keys|Go Live|Lipa Na M-Pesa [A-Za-z]+|"
    r"M-Pesa Sandbox|Business (Administrator|Manager)|Head Office|Store number|Operators|"
    r"Org Reversals Initiator|Balance Query ORG API|Pull Transactions|Main PayBill|"
    r"Acme Electronics|John Doe|API operator|Signing secret|signing secret|REST API|"
    r"Validation URL|Confirmation URL|Buy Goods|Lipa na M-Pesa Online|Till app|"
    r"Callback URL|STK push|access channel|Default key|"
    # a masked consumer key, the SMS placeholders, a ledger line's payment receipt
    r"\*{4}\S*|\{\w+\}|Payment [A-Z0-9]{10}\b", re.IGNORECASE)

PAGES = ["/dashboard", "/channels", "/channels/new", "/channels/{channel_id}",
         "/channels/{channel_id}/setup", "/channels/{channel_id}/edit",
         "/channels/{channel_id}/mapping", "/programs", "/programs/new", "/programs/{code}/edit",
         "/customers", "/customers/new", "/customers/{customer_id}",
         "/customers/{customer_id}/erase", "/transactions", "/transactions/{payment_id}",
         "/transactions/unattributed", "/settings", "/settings/api-keys", "/webhooks",
         "/webhooks/{endpoint_id}", "/analytics", "/callback-log", "/settings/password"]
PUBLIC = ["/", "/login", "/signup", "/forgot-password", "/reset-password"]


def _main_text(html: str) -> str:
    """The <main> part's words, without what the merchant, customer or Safaricom wrote."""
    main = re.search(r"<main[^>]*>(.*)</main>", html, re.S).group(1)
    main = re.sub(r"<(code|pre|script|style|textarea)[^>]*>.*?</\1>", " ", main, flags=re.S)
    main = re.sub(r'<p class="sms"[^>]*>.*?</p>', " ", main, flags=re.S)
    main = re.sub(r"<[^>]+>", " ", main)
    return NAMES.sub(" ", re.sub(r"\s+", " ", unescape(main)))


def _english(html: str) -> list[str]:
    words = _main_text(html)
    return [words[max(m.start() - 40, 0):m.end() + 40] for m in ENGLISH.finditer(words)]


@pytest.fixture
def swahili(client):
    client.set_cookie("lang", "sw")
    return client


def test_every_merchant_page_reads_in_swahili(client, db_session, shop, swahili):
    seeded = _seeded(db_session, shop)
    leftovers = {}
    for url in PAGES:
        url = url.format(**seeded)
        response = swahili.get(url)
        assert response.status_code == 200, (url, response.status_code)
        html = response.get_data(as_text=True)
        assert 'lang="sw"' in html, url
        if found := _english(html):
            leftovers[url] = found
    assert not leftovers, "\n".join(f"{url}: {found}" for url, found in leftovers.items())


def test_the_pages_before_logging_in_read_in_swahili(swahili):
    leftovers = {url: found for url in PUBLIC
                 if (found := _english(swahili.get(url).get_data(as_text=True)))}
    assert not leftovers, leftovers


def test_the_check_finds_english_on_a_page_left_in_english(client, db_session, shop):
    """The same pages in English: every one of them is caught (so the test above can fail)."""
    seeded = _seeded(db_session, shop)
    caught = [url for url in PAGES
              if _english(client.get(url.format(**seeded)).get_data(as_text=True))]
    assert len(caught) == len(PAGES), set(PAGES) - set(caught)


def test_a_refused_form_speaks_swahili_labels_hints_and_errors(swahili):
    answer = swahili.post("/signup", data={"business_name": "", "owner_name": "Wanjiku",
                                           "email": "w@mboga.example", "phone": "12",
                                           "business_type": "RETAIL", "password": "short",
                                           "confirm": "other"})
    assert answer.status_code == 422
    words = _main_text(answer.get_data(as_text=True))
    for swahili_text in ("Jina la biashara", "Tafadhali jaza hapa.", "Angalau herufi 8.",
                         "Manenosiri hayafanani.", "Tafadhali sahihisha sehemu",
                         "Aina ya biashara", "Duka la rejareja"):
        assert swahili_text in words, swahili_text
    assert not _english(answer.get_data(as_text=True))


def test_a_check_in_progress_and_its_counts_read_in_swahili(client, shop, swahili):
    channel = shop.channel["id"]
    shop.api("POST", f"/mpesa-channels/{channel}/pull/register",
             json={"nominated_number": "0722000111"})
    page = swahili.get(f"/channels/{channel}").get_data(as_text=True)
    assert "Malipo yaliyokosekana" in page
    assert "Inasajiliwa na Safaricom" in page
    assert 'data-pending="true"' in page


def test_logging_in_and_out_speaks_swahili(client, shop, swahili):
    with swahili.session_transaction() as session:  # the shop fixture logged in: forget it
        session.clear()
    page = swahili.get("/dashboard", follow_redirects=True).get_data(as_text=True)
    assert "Ingia ili uendelee." in page
    refused = swahili.post("/login", data={"email": "nobody@mboga.example", "password": "x"})
    assert "Barua pepe au nenosiri si sahihi." in refused.get_data(as_text=True)


def test_dates_and_the_scripts_words_are_in_swahili(shop, swahili):
    page = swahili.get("/transactions").get_data(as_text=True)
    # This month's short name, where Swahili's differs (the payment was made just now).
    month = {3: "Mac", 5: "Mei", 8: "Ago", 10: "Okt", 12: "Des"}.get(
        utcnow().astimezone(EAT).month)
    if month:
        assert f" {month} " in page, month
    words = json.loads(unescape(re.search(r'<body data-words="([^"]*)"', page).group(1)))
    assert words["copy"] == "Nakili" and words["new_payment"] == "Malipo mapya:"
