"""axe-core (vendored in tests/browser/vendor, never from a CDN) on ten pages at phone width:
no serious or critical violation, so a shop owner using a screen reader or a zoomed phone
can do what everyone else can. The same run saves the README's screenshots."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.browser.steps import PHONE, WIDE, expect, log_in, merchant_with_a_paid_customer
from tests.processes import ROOT

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# README_SHOTS=1 copies the README's three screenshots into docs/screenshots (committed).
README_SHOTS = ROOT / "docs" / "screenshots"

SERIOUS = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.filter(v => ["serious", "critical"].includes(v.impact))
    .map(v => `${v.impact} ${v.id}: ${v.help} — ` +
              v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
}"""


def _violations(page, path: str) -> list[str]:
    page.goto(path)
    page.wait_for_load_state("load")
    return page.evaluate(SERIOUS)


def _first_link(page, pattern: str) -> str:
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    return next(h for h in hrefs if re.fullmatch(pattern, h))


def test_ten_pages_have_no_serious_or_critical_axe_violation_on_a_phone(stack, page):
    # An init script is injected by the browser itself, so the pages' CSP (script-src
    # 'self') stays as it is in production.
    page.add_init_script(path=str(AXE))
    page.set_viewport_size(PHONE)
    found = {}
    for path in ("/", "/login", "/signup"):
        found[path] = _violations(page, path)
    log_in(page, merchant_with_a_paid_customer(stack))  # lands on the dashboard
    page.goto("/channels")
    channel = _first_link(page, r"/channels/\d+")
    page.goto("/customers")
    customer = _first_link(page, r"/customers/\d+")
    for path in ("/dashboard", "/channels", channel, "/programs", "/customers", customer,
                 "/transactions"):
        found[path] = _violations(page, path)
    assert len(found) == 10
    problems = {path: v for path, v in found.items() if v}
    assert not problems, problems
    assert not page.js_errors, page.js_errors


def test_readme_screenshots_dashboard_setup_and_dry_run(stack, page):
    saved = {}

    def shot(name: str) -> None:
        # The first screen only (what a README reader sees), small enough to commit.
        saved[name] = stack.output / "screenshots" / f"readme-{name}.png"
        page.screenshot(path=str(saved[name]))

    log_in(page, merchant_with_a_paid_customer(stack))
    expect(page.locator("#feed")).to_contain_text("KES 5,000")
    page.set_viewport_size(PHONE)
    shot("dashboard")
    page.set_viewport_size(WIDE)
    page.goto("/channels")
    channel = _first_link(page, r"/channels/\d+")
    page.goto(channel + "/setup")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    shot("setup")
    page.goto(f"{channel}/mapping?account=VIP001&amount=5000#dry-run")
    expect(page.locator("#dry-run-result")).to_contain_text("100 points")
    page.locator("#dry-run").scroll_into_view_if_needed()
    shot("dry-run")
    if os.environ.get("README_SHOTS") == "1":
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        for name, path in saved.items():
            shutil.copyfile(path, README_SHOTS / f"{name}.png")
