"""A new shop owner on a phone (375 px) starts from a setup template: the cards, the
questions, the plan in words, Apply, and the programs it made: in Chromium."""

from __future__ import annotations

import re

import pytest

from tests.browser.steps import PHONE, SMALL_TARGETS, Shots, expect, fits_the_screen, sign_up

pytestmark = pytest.mark.browser


def test_a_salon_owner_sets_up_from_a_template_on_a_phone(stack, page):
    shot = Shots(page, stack.output)
    page.set_viewport_size(PHONE)
    sign_up(page, business="Wanjiku Salon", owner="Grace Wanjiku", kind="SERVICES")
    expect(page).to_have_url(re.compile(r"/channels/new$"))

    page.goto("/dashboard")
    page.get_by_role("link", name="Start from a template").click()
    expect(page).to_have_url(re.compile(r"/setup/templates$"))
    expect(page.locator("#template-salon-stamps")).to_contain_text(
        "For a Till or Buy Goods or PayBill")
    fits_the_screen(page, "the template cards")
    assert page.evaluate(SMALL_TARGETS) == []
    shot("phone-setup-templates")

    page.get_by_role("link", name="Use this template: Salon stamp card").click()
    expect(page).to_have_url(re.compile(r"/setup/templates/salon-stamps$"))
    page.get_by_label("Visits for a reward").fill("8")
    page.get_by_label("The reward").fill("free manicure")
    page.get_by_role("button", name="Show what changes").click()
    plan = page.locator("#plan")
    expect(plan).to_contain_text("Program “Salon visits”: a card of 8 stamps for free manicure")
    expect(plan).to_contain_text("Swahili receipt for visits")
    fits_the_screen(page, "the template's plan")
    assert page.evaluate(SMALL_TARGETS) == []
    shot("phone-setup-template-plan")

    page.get_by_role("button", name="Apply this template").click()
    expect(page).to_have_url(re.compile(r"/programs$"))
    expect(page.locator("p.alert.success")).to_contain_text("'Salon stamp card' is set up")
    expect(page.locator("tbody")).to_contain_text("8 for free manicure")
    shot("phone-setup-template-applied")
    assert page.js_errors == []
