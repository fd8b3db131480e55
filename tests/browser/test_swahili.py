"""A shop owner who reads Swahili, on a phone: the channel page's missed-payment check
follows the worker by itself and says what happened in Swahili, and the copy buttons too."""

from __future__ import annotations

import pytest

from tests.browser.steps import PASSWORD, PHONE, expect, shop_with_a_lost_confirmation

pytestmark = pytest.mark.browser


def test_a_missed_payment_check_reads_in_swahili_as_it_runs(stack, page):
    email, channel, _ = shop_with_a_lost_confirmation(stack)
    page.set_viewport_size(PHONE)
    # Filled here, not by log_in: the form's Swahili labels are part of what this test reads.
    page.goto("/language?to=sw&next=/login")
    page.get_by_label("Barua pepe").fill(email)
    page.get_by_label("Nenosiri").fill(PASSWORD)
    page.get_by_role("button", name="Ingia").click()
    page.goto(f"/channels/{channel}")
    expect(page.locator("html")).to_have_attribute("lang", "sw")
    expect(page.get_by_role("button", name="Nakili validation URL")).to_be_visible()

    section = page.locator("#missed-payments")
    section.get_by_label("Namba ya simu iliyoteuliwa").fill("0722 000 111")
    section.get_by_role("button", name="Jisajili kwa ukaguzi").click()
    page.evaluate("window.sameDocument = true")
    announce = section.locator('[data-live="announce"]')
    expect(announce).to_have_text("Safaricom imesajili namba hii kwa ukaguzi.", timeout=30_000)

    section.get_by_label("Angalia nyuma (saa)").fill("1")
    section.get_by_role("button", name="Kagua malipo yaliyokosekana").click()
    expect(page.get_by_role("status").first).to_contain_text("Tunatafuta malipo ya saa 1")
    page.evaluate("window.sameDocument = true")
    expect(announce).to_contain_text("Ukaguzi umekamilika", timeout=30_000)
    expect(announce).to_contain_text("1 yamepatikana")
    expect(section.locator(".runs .badge").first).to_have_text("imekamilika")
    assert page.evaluate("window.sameDocument") is True
    assert page.js_errors == [], page.js_errors
