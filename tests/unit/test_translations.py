"""The Swahili catalogue: every string marked in the translated templates has a Swahili
text, and the committed .mo (what the app loads) says the same as the .po (what people edit)."""

from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[2] / "loyalty" / "web"
MESSAGES = WEB / "translations" / "sw" / "LC_MESSAGES"
TRANSLATED = ("base.html", "dashboard.html", "_dashboard_live.html", "login.html", "signup.html")


def _catalog():
    with open(MESSAGES / "messages.po", "rb") as po:
        return read_po(po, locale="sw")


def test_every_marked_string_has_a_swahili_text():
    catalog = _catalog()
    marked = {message for name in TRANSLATED
              for _, message, _, _ in extract_from_file(
                  "jinja2", WEB / "templates" / "web" / name,
                  options={"extensions": "jinja2.ext.i18n"})}
    assert marked, "no string is marked for translation"
    missing = sorted(m for m in marked if not (catalog.get(m) and catalog.get(m).string))
    assert not missing, f"add these to {MESSAGES / 'messages.po'}: {missing}"


def test_the_compiled_catalogue_matches_the_po_file():
    with open(MESSAGES / "messages.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    stale = [m.id for m in _catalog() if m.id and compiled.gettext(m.id) != m.string]
    assert not stale, f"run `pybabel compile -d {WEB / 'translations'}`; stale: {stale}"
