"""Switching the UI language (a cookie; see web/i18n.py), for visitors and merchants."""

from __future__ import annotations

from flask import redirect, request, url_for

from loyalty.web.blueprint import bp
from loyalty.web.i18n import COOKIE, COOKIE_MAX_AGE, LANGUAGES


@bp.get("/language", endpoint="language")
def choose_language():
    """`?to=sw&next=/dashboard`: set the language and go back to the page it was chosen on.
    An unknown language changes nothing; `next` must be a path on this site."""
    target = request.args.get("next", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = url_for("web.index")
    response = redirect(target)
    language = request.args.get("to")
    if language in LANGUAGES:
        response.set_cookie(COOKIE, language, max_age=COOKIE_MAX_AGE, samesite="Lax",
                            httponly=True)
    return response
