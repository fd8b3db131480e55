"""The web UI's language: English, or Swahili for a merchant who picks it.

The choice is a cookie, so it applies before logging in (the login and sign-up pages) and
to everyone using that browser; nothing about it is stored on the merchant. Translations
live in web/translations as messages.po with its compiled messages.mo committed beside it
(tests/unit/test_translations.py checks the two agree), so running the app needs no
compile step.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request
from flask_babel import Babel, get_locale

LANGUAGES = {"en": "English", "sw": "Kiswahili"}
DEFAULT = "en"
COOKIE = "lang"
TRANSLATIONS = Path(__file__).parent / "translations"
# A year: the language is a preference, not a session.
COOKIE_MAX_AGE = 365 * 24 * 3600


def chosen_language() -> str:
    wanted = request.cookies.get(COOKIE, DEFAULT)
    return wanted if wanted in LANGUAGES else DEFAULT


def init_i18n(app: Flask) -> None:
    Babel(app, locale_selector=chosen_language,
          default_translation_directories=str(TRANSLATIONS))

    @app.context_processor
    def _language():
        return {"current_language": str(get_locale() or DEFAULT), "languages": LANGUAGES}
