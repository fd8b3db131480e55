"""The Swahili catalogue: every string marked for translation in the web UI (its templates,
and the forms' labels, hints and messages) has a Swahili text, the committed .mo (what the
app loads) says the same as the .po (what people edit), and the API's sentences the pages
translate are still the ones the schemas use."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from loyalty.schemas import base as schemas
from loyalty.web import i18n

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "loyalty" / "web"
MESSAGES = WEB / "translations" / "sw" / "LC_MESSAGES"
# As README's `pybabel extract` (loyalty/web/babel.cfg, -k _l -k N_).
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "N_": None}
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}|<\w+")


def _catalog():
    with open(MESSAGES / "messages.po", "rb") as po:
        return read_po(po, locale="sw")


def _marked() -> set:
    return {message for _, _, message, _, _ in extract_from_dir(
        str(WEB), method_map=METHODS, keywords=KEYWORDS,
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}})}


def test_every_marked_string_has_a_swahili_text():
    catalog = _catalog()
    marked = _marked()
    assert len(marked) > 500, "the pages' and forms' strings are no longer found"
    missing = sorted(str(m) for m in marked
                     if not (catalog.get(m) and all(_strings(catalog.get(m)))))
    assert not missing, f"add these to {MESSAGES / 'messages.po'} (README: Swahili): {missing}"


def _strings(message) -> tuple:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def test_every_translation_keeps_the_placeholders_and_markup():
    wrong = []
    for message in _catalog():
        if not message.id:
            continue
        wanted = sorted(PLACEHOLDER.findall(message.id if isinstance(message.id, str)
                                            else message.id[-1]))
        wrong += [(message.id, s) for s in _strings(message)
                  if sorted(PLACEHOLDER.findall(s)) != wanted]
    assert not wrong, wrong


def test_the_compiled_catalogue_matches_the_po_file():
    with open(MESSAGES / "messages.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    stale = [m.id for m in _catalog() if m.id and isinstance(m.id, str)
             and compiled.gettext(m.id) != m.string]
    assert not stale, f"run `pybabel compile -d {WEB / 'translations'}`; stale: {stale}"


def test_the_api_sentences_translated_on_the_pages_are_the_schemas_own():
    for sentence in (schemas.REQUIRED, schemas.NOT_A_NUMBER, schemas.NOT_A_WHOLE_NUMBER,
                     schemas.NOT_A_DATE, schemas.NOT_AN_EMAIL, schemas.NOT_A_CHOICE):
        assert sentence in i18n.API_SENTENCES, sentence
    for made in (schemas.too_short(8), schemas.too_long(1000)):
        assert any(pattern.fullmatch(made) for pattern, _ in i18n.NUMBERED), made


def test_the_callback_log_has_swahili_words_for_every_kind_of_message():
    from loyalty.services import callback_review
    from loyalty.web.views import callback_log

    assert set(callback_log.KINDS) == set(callback_review.KINDS)


def test_every_shipped_setup_template_has_its_words_in_the_catalogue():
    """A template's title, description, instructions and questions are listed for the
    catalogue (web/setup_template_words.py), so a template added without them fails here
    rather than showing English on a Swahili page."""
    import json

    from loyalty.web.setup_template_words import WORDS, manifest_words

    catalog = _catalog()
    missing = []
    for path in sorted((ROOT / "loyalty" / "setup_templates").glob("*/*.json")):
        for sentence in manifest_words(json.loads(path.read_text())):
            if sentence not in WORDS or not (catalog.get(sentence) and catalog.get(sentence).string):
                missing.append((path.parent.name, sentence))
    assert not missing, f"add to loyalty/web/setup_template_words.py and translate: {missing}"
