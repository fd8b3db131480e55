"""Every merchant page in Swahili: a shop owner who switched the language reads no English
page text, form label, hint or error message in the page's main part.

The check is a list of common English words a translated page has no reason to show. What
the merchant or the customer typed (names, SMS texts, account references) and what
Safaricom's portal calls things (Consumer key, My Apps, PayBill) are theirs and stay: text
inside <code>, <pre>, the SMS bubbles (.sms) and the fields' current values is left out,
and the words chosen are not in those names.
"""

from __future__ import annotations

import io
import json
import re
from html import unescape

import pytest

from loyalty.models.base import utcnow
from loyalty.services.payments import EAT
from tests.integration.experiment_history import assign, fixed_experiment, seed_history
from tests.web.conftest import text
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
    r"Acme Electronics|John Doe|1\.5x points|API operator|Signing secret|signing secret|REST API|"
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
         "/webhooks/{endpoint_id}", "/analytics", "/callback-log", "/settings/password",
         "/setup/templates", "/setup/templates/{template_key}", "/experiments",
         "/experiments/new", "/experiments/{experiment_id}", "/settings/branding",
         "/channels/transfer"]
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


def test_a_rule_test_with_results_its_chart_and_buttons_read_in_swahili(db_session, shop,
                                                                      swahili):
    experiment = fixed_experiment(db_session, shop, method="fixed")
    assign(db_session, shop, experiment, variant="A", count=100, days_ago=40,
           repeat_percent=20)
    assign(db_session, shop, experiment, variant="B", count=100, days_ago=40,
           repeat_percent=40)
    html = swahili.get(f"/experiments/{experiment}").get_data(as_text=True)
    assert not _english(html)
    # The chart's labels (read aloud by a screen reader) and the verdict are Swahili too.
    assert "A: 20.0% walirudi (95% kati ya" in html
    assert 'aria-label="Sehemu ya wateja waliorudi, kwa kila toleo' in html
    assert "Wape wote B" in html and "Simamisha jaribio" in html
    stopped = swahili.post(f"/experiments/{experiment}/stop", follow_redirects=True)
    assert "Jaribio limesimamishwa" in text(stopped)
    assert "imesimamishwa" in text(swahili.get("/experiments"))


def test_a_refused_rule_test_plan_reads_in_swahili(db_session, shop, swahili):
    seed_history(db_session, shop, payers=2000, repeat_percent=30)
    refused = swahili.post("/experiments/new", data={
        "name": "Mara mbili", "program": "loyalty", "channel": "", "multiplier": "2",
        "share_b": "50", "days": "30", "effect": "1", "method": "fixed"})
    assert refused.status_code == 422
    words = _main_text(refused.get_data(as_text=True))
    assert "Jaribio hili lingehitaji zaidi ya wiki 12 za walipaji wapya." in words
    assert "wateja wapya" in words and "hulipa kila wiki" in words
    assert not _english(refused.get_data(as_text=True))


def test_a_template_plan_and_its_result_read_in_swahili(shop, swahili):
    page = swahili.get("/setup/templates/electronics-vip")
    shown = text(page)
    assert "Duka la elektroniki lenye ngazi za VIP" in shown
    assert "Mpya Programu “Delivery”: kadi ya stempu 5 kwa free delivery" in shown
    assert "Namba ya akaunti DELIVERY hupata pointi kwenye delivery" in shown
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"',
                    page.get_data(as_text=True)).group(1)
    refused = swahili.post("/setup/templates/electronics-vip", data={
        "p_vip_multiplier": "9", "p_delivery_orders": "5", "p_delivery_reward": "free delivery",
        "channel_id": str(shop.channel["id"]), "idempotency_key": key, "apply": "y"})
    assert refused.status_code == 422 and "Isizidi 5." in text(refused)
    applied = swahili.post("/setup/templates/electronics-vip", data={
        "p_vip_multiplier": "2", "p_delivery_orders": "5", "p_delivery_reward": "free delivery",
        "channel_id": str(shop.channel["id"]), "idempotency_key": key, "apply": "y"},
        follow_redirects=True)
    assert re.search(r"'Duka la elektroniki lenye ngazi za VIP' kimewekwa: mabadiliko \d+ "
                     r"yamefanywa\.", text(applied))


def test_branding_refusals_and_confirmations_read_in_swahili(shop, swahili):
    refused = swahili.post("/settings/branding", data={
        "display_name": "", "primary_color": "#7a7a7a", "accent_color": "#1a7f37"})
    assert refused.status_code == 422
    assert "Utofauti ni mdogo mno" in text(refused) and "4.39:1" in text(refused)
    assert not _english(refused.get_data(as_text=True))
    saved = swahili.post("/settings/branding", data={
        "display_name": "Mama Njeri", "primary_color": "#0b5394", "accent_color": "#1a7f37"},
        follow_redirects=True)
    assert "Chapa imehifadhiwa." in text(saved)
    assert swahili.post("/settings/sender-id", data={
        "sender_id": "MAMA NJERI", "category": "promotional"}).status_code == 302
    assert "MAMA NJERI kwa ofa: inasubiri" in text(swahili.get("/settings/branding"))


def test_a_refused_channels_file_reads_in_swahili(shop, swahili):
    rows = [{"name": "Tawi la Thika", "shortcode": "12", "channel_type": "paybill"}]
    refused = swahili.post("/channels/transfer", content_type="multipart/form-data", data={
        "file": (io.BytesIO(json.dumps({"items": rows}).encode()), "mpesa-channels.json")})
    assert refused.status_code == 422
    shown = text(refused)
    assert "Hakuna kilichoongezwa" in shown
    assert "Mstari 1: shortcode: Lazima iwe namba ya M-Pesa yenye tarakimu 5 hadi 7." in shown
    assert not _english(refused.get_data(as_text=True))
