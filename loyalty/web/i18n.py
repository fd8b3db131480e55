"""The web UI's language: English, or Swahili for a merchant who picks it.

The choice is a cookie, so it applies before logging in (the login and sign-up pages) and
to everyone using that browser; nothing about it is stored on the merchant. Translations
live in web/translations as messages.po with its compiled messages.mo committed beside it
(tests/unit/test_translations.py checks the two agree), so running the app needs no
compile step.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask, request
from flask_babel import Babel, get_locale, gettext

LANGUAGES = {"en": "English", "sw": "Kiswahili"}
DEFAULT = "en"
COOKIE = "lang"
TRANSLATIONS = Path(__file__).parent / "translations"
# A year: the language is a preference, not a session.
COOKIE_MAX_AGE = 365 * 24 * 3600


def chosen_language() -> str:
    wanted = request.cookies.get(COOKIE, DEFAULT)
    return wanted if wanted in LANGUAGES else DEFAULT


def N_(text: str) -> str:
    """Marks a sentence for `pybabel extract` without translating it here."""
    return text


# The API's sentences a form can show (schemas/base.py and the schemas), English where they
# are made; listed here so the catalogue has them (tests/unit/test_translations.py checks
# they are still the sentences the schemas use).
API_SENTENCES = (
    N_("Please fill this in."), N_("Must be a number, e.g. 250 or 99.50."),
    N_("Must be a whole number, e.g. 100."), N_("Must be a date, e.g. 03 Dec 2026."),
    N_("Must be an email address, e.g. name@example.com."),
    N_("Must be one of the options listed."), N_("Must be a 5 to 7 digit M-Pesa number."),
    N_("Use 1-40 lower-case letters, digits, '-' or '_'."), N_("Six digits."),
    N_("Add or take away at least one point."), N_("a phone number is required"),
    # schemas/merchants.py and services/merchants.py: the STOP keyword in Settings
    N_("2 to 20 letters or digits, no spaces (customers text STOP <keyword>)."),
    N_("STOP, START and ALL are the commands themselves."),
    N_("Another merchant uses this SMS keyword; choose another."),
    # services/sms_allowance.py SANDBOX_ONLY, on a customer's skipped text
    N_("A sandbox channel's payment: texted only to your own phone and your SMS test numbers."),
    # services/channel_events.py describe(): a channel's history on its page
    N_("Channel added."), N_("Channel added from an imported file."),
    N_("Channel added by the platform operator."),
    N_("Channel added with the account rules of the setup template you applied before it."),
    N_("Channel added from an imported file, with the account rules of the setup template you "
       "applied before it."),
    N_("Safaricom confirmed your consumer key and secret."),
    N_("Safaricom now sends your payments here (URLs registered)."),
    N_("Activated automatically after Safaricom confirmed your details."),
    N_("You activated the channel: payments earn points."),
    N_("You paused the channel: payments are kept but earn no points."),
    N_("Paused because its details changed: Safaricom must confirm them again."),
    N_("The channel was paused."), N_("Details changed."),
    N_("New callback address issued; the old one works for a while."),
    N_("New callback address issued; the old one works for a while and the URLs are being "
       "registered again."),
    # services/experiments: a rule test's verdict on its page, and why a button was refused
    N_("The split of payers is off from the plan (sample-ratio check p < 0.001): something "
       "other than chance decides who gets which variant, so no verdict is given. Check "
       "channel filters and masked payers before trusting any rate."),
    N_("The effect stays hidden until the planned analysis date, so an early lucky streak "
       "cannot decide the test."),
    N_("The variants differ by more than chance would explain: you can stop and promote."),
    N_("No difference big enough to matter was found: keep the simpler rule."),
    N_("The experiment has not started."),
    N_("Keep going: not enough payers have completed their follow-up yet."),
    N_("Only a planned experiment can start."),
    N_("Another experiment is running on this program; stop it first."),
    N_("Only a running experiment can stop."),
    N_("Only a started experiment that was not promoted yet can be promoted."),
    N_("Too small to measure in 12 weeks."), N_("The shares must add up to 100."),
    N_("A stamp card needs a reward."),
    # services/setup_templates: a template's plan and its questions' answers
    N_("No channel of a kind this template fits yet: its account rules are set when you add "
       "one, unless you give it rules of your own."),
    N_("This template is not for this kind of channel."),
    N_("Must be a whole number, e.g. 5."), N_("Must be a number, e.g. 1.5."),
    N_("Must be some text."),
    # schemas/branding.py, services/branding.py, sender_ids.py, sms_accounts.py
    N_("Must be a colour written #rrggbb, e.g. #0b5394."), N_("Must be #rrggbb."),
    N_("Letters, digits, '_', '.' and '-' only, as on your Africa's Talking dashboard."),
    N_("Printable characters without spaces only, as Africa's Talking shows the key."),
    N_("The file is too large."),
    N_("The logo must be a PNG, JPEG or WebP image (judged by the file's content; SVG and "
       "other kinds are not accepted)."),
    N_("Needs at least one letter (a name of digits only is a phone number)."),
    N_("Africa's Talking did not accept this username and API key."),
    # services/account_mapping.py: an account rule refused (the rules page, a channels file)
    N_("'*' alone matches everything: use 'default' instead."),
)

# Sentences with a number or a name in them (schemas/base.py too_short/too_long, marshmallow's
# Range, phones.py, services), matched so their catalogue entry can hold a placeholder.

_ONE_WORD = r"\S+"


def _numbered(msgid: str, **holes: str) -> tuple[re.Pattern[str], str]:
    """(pattern, msgid) for a sentence with holes, the pattern made from the catalogue entry
    itself so the two cannot drift apart. `holes` says what a hole matches (default: one
    word); a hole named twice must hold the same text both times."""
    pieces = re.split(r"%\((\w+)\)s", msgid)  # text, name, text, name, ..., text
    pattern, seen = re.escape(pieces[0]), set()
    for name, literal in zip(pieces[1::2], pieces[2::2], strict=True):
        hole = holes.get(name, _ONE_WORD)
        pattern += f"(?P={name})" if name in seen else f"(?P<{name}>{hole})"
        pattern += re.escape(literal)
        seen.add(name)
    return re.compile(pattern), msgid


NUMBERED = [
    _numbered(N_("At least %(num)s characters."), num=r"[\d,]+"),
    _numbered(N_("At most %(num)s characters."), num=r"[\d,]+"),
    _numbered(N_("Must be between %(min)s and %(max)s.")),
    _numbered(N_("%(value)s is not a phone number"), value=".+"),
    _numbered(N_("%(value)s is not a Kenyan number (+254)"), value=".+"),
    _numbered(N_("%(value)s is not a Kenyan mobile number (07XX or 01XX)"), value=".+"),
    _numbered(N_("A merchant with the email %(email)s is already registered.")),
    # a setup template's answer out of its bounds (services/setup_templates/planning.py)
    _numbered(N_("At least %(low)s."), low=r"[\d.,]+"),
    _numbered(N_("At most %(high)s."), high=r"[\d.,]+"),
    # a rule test that would take too long (services/experiments create_experiment)
    _numbered(N_("This experiment would need more than %(weeks)s weeks of new payers. An effect of "
                 "%(effect)s could be measured in %(weeks)s weeks."), weeks=r"\d+"),
    _numbered(N_("This experiment would need more than %(weeks)s weeks of new payers. Too few new "
                 "payers reach this program to measure any effect in %(weeks)s weeks."),
              weeks=r"\d+"),
    # a colour, a logo or a sender name refused on the Branding page
    _numbered(N_("Too little contrast: the best text colour on %(color)s reaches %(ratio)s:1, and "
                 "WCAG AA needs %(needed)s:1. Choose a darker or lighter colour."),
              color=r"#\w+"),
    _numbered(N_("The logo is %(size)s KiB; at most %(limit)s KiB."), size=r"\d+", limit=r"\d+"),
    _numbered(N_("The image is %(size)s pixels; at most %(limit)s pixels.")),
    _numbered(N_("The image has too many pixels (at most %(limit)s).")),
    _numbered(N_("The file starts like a %(kind)s image but could not be read as one."),
              kind=r"\w+"),
    _numbered(N_("'%(name)s' looks like %(whom)s; sender IDs that imitate M-PESA, Safaricom, banks "
                 "or the government are refused."), name=".*", whom=".+"),
    _numbered(N_("At most %(num)s letters, digits and spaces."), num=r"\d+"),
    # an account rule refused (services/account_mapping.py normalise_mapping): on the rules
    # page and in a channels file's rows
    _numbered(N_("Unknown program code(s): %(unknown)s. Known: %(known)s."),
              unknown=".+", known=".+"),
    _numbered(N_("'%(key)s': Till and Buy Goods payments carry no account reference, so only "
                 "'default' can be mapped."), key=".*"),
    _numbered(N_("'%(key)s' repeats '%(other)s' (matching ignores case)."), key=".*", other=".*"),
    _numbered(N_("'%(key)s': '*' may only end a prefix, as in 'VIP*'."), key=".*"),
    _numbered(N_("'%(key)s': use letters, digits, spaces or - _ . / # & (up to 20 characters, "
                 "starting with a letter or digit)."), key=".*"),
]


def say(message) -> str:
    """A problem shown on a page, in the page's language. Form fields are checked by WTForms
    and by the API's schemas and services, whose sentences are English (the API answers in
    English); the catalogue has them, so they are translated here, where they are shown."""
    text = str(message)
    if str(get_locale() or DEFAULT) == DEFAULT:
        return message
    translated = gettext(text)
    if translated != text:
        return translated
    for pattern, msgid in NUMBERED:
        found = pattern.fullmatch(text)
        if found:
            return gettext(msgid, **found.groupdict())
    return message


# Dates read "03 Des 2026" in Swahili: the months whose short name differs from English.
SWAHILI_MONTHS = {"Mar": "Mac", "May": "Mei", "Aug": "Ago", "Oct": "Okt", "Dec": "Des"}
_MONTH = re.compile(r"\b(" + "|".join(SWAHILI_MONTHS) + r")\b")


def local_months(text: str) -> str:
    """A date formatted with %b, its month's short name in the page's language."""
    if str(get_locale() or DEFAULT) != "sw":
        return text
    return _MONTH.sub(lambda found: SWAHILI_MONTHS[found.group(1)], text)


def init_i18n(app: Flask) -> None:
    Babel(app, locale_selector=chosen_language,
          default_translation_directories=str(TRANSLATIONS))
    app.add_template_filter(say, "say")

    @app.context_processor
    def _language():
        return {"current_language": str(get_locale() or DEFAULT), "languages": LANGUAGES,
                "script_words": script_words}


def script_words() -> dict[str, str]:
    """What app.js and app-live.js say by themselves (copy buttons, the feed's
    announcements), in the page's language: the layout hands them over in <body
    data-words>; {what} and {count} are filled in by the script."""
    return {"copy": gettext("Copy"), "copied": gettext("Copied"),
            "copy_what": gettext("Copy {what}"), "is_copied": gettext("{what} is copied."),
            "by_hand": gettext("Select and copy by hand"),
            "new_payment": gettext("New payment:"),
            "new_payments": gettext("{count} new payments.")}
