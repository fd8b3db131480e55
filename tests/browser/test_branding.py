"""A shop owner brands the app on a phone (375 px), in Chromium: Branding is in the folded
menu, the page fits the screen, a name and colours saved change the top bar on the next
page, and a small PNG logo uploaded is shown there."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from tests.browser.steps import PHONE, SMALL_TARGETS, Shots, expect, fits_the_screen, sign_up

pytestmark = pytest.mark.browser

TOP_BAR = "getComputedStyle(document.querySelector('header.top')).backgroundColor"


def _top_bar(page) -> str:
    """The top bar's computed colour once the page's stylesheets (the theme too) loaded."""
    page.wait_for_load_state("load")
    return page.evaluate(TOP_BAR)


def _small_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (255, 211, 61)).save(out, format="PNG")
    return out.getvalue()


def test_a_shop_owner_brands_the_app_on_a_phone(stack, page):
    shot = Shots(page, stack.output)
    page.set_viewport_size(PHONE)
    sign_up(page, business="Njeri Fashions", owner="Mary Njeri")
    expect(page).to_have_url(re.compile(r"/channels/new$"))
    assert _top_bar(page) == "rgb(17, 99, 41)"  # the standard green

    # Branding is in the menu, behind its one button on a phone.
    page.get_by_text("Menu", exact=True).click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Branding").click()
    expect(page).to_have_url(re.compile(r"/settings/branding$"))
    standard = page.get_by_label("Use the standard colours")
    expect(standard).to_be_checked()  # nothing chosen yet
    fits_the_screen(page, "the Branding page")
    assert page.evaluate(SMALL_TARGETS) == []
    shot("phone-branding")

    page.get_by_label("Name on your texts").fill("Njeri's")
    page.get_by_label("Main colour").fill("#0b5394")
    page.get_by_label("Button colour").fill("#ffd33d")
    expect(standard).not_to_be_checked()  # picking a colour unticks the box
    page.get_by_role("button", name="Save name and colours").click()
    expect(page.locator("p.alert.success")).to_contain_text("Branding saved.")

    page.goto("/dashboard")
    expect(page.locator("header.top .brand")).to_have_text("Njeri's")
    assert _top_bar(page) == "rgb(11, 83, 148)"
    fits_the_screen(page, "the branded dashboard")
    shot("phone-branded-dashboard")

    page.goto("/settings/branding")
    page.locator("input#logo[type=file]").set_input_files(
        {"name": "logo.png", "mimeType": "image/png", "buffer": _small_png()})
    page.get_by_role("button", name="Upload logo").click()
    expect(page.locator("p.alert.success")).to_contain_text("Logo saved.")
    logo = page.locator("header.top img.brand-logo")
    expect(logo).to_be_visible()
    expect(logo).to_have_attribute("src", re.compile(r"^/brand/[0-9a-f]{16}/logo\.png\?v=\d+$"))
    page.wait_for_load_state("load")
    assert logo.evaluate("img => img.complete && img.naturalWidth") == 64  # it loaded
    fits_the_screen(page, "the Branding page with a logo")
    assert page.evaluate(SMALL_TARGETS) == []
    shot("phone-branding-logo")

    # Back to the standard colours with the box.
    standard.check()
    page.get_by_role("button", name="Save name and colours").click()
    expect(page.locator("p.alert.success")).to_contain_text("Branding saved.")
    assert _top_bar(page) == "rgb(17, 99, 41)"
    assert page.js_errors == []
