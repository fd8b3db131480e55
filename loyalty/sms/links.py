"""Links in a text: what "a template may contain a URL only for a merchant with an active
production channel" looks for (DESIGN.md section 10).

A link in a text from a known sender is what a phishing SMS needs, so anything a phone
would make tappable counts: `http://` and `https://` URLs, `www.` names, bare domains
(`example.co.ke/x`) and IPv4 addresses. Full-width and other look-alike characters are
folded first (NFKC), so `ｅｘａｍｐｌｅ．ｃｏｍ` is `example.com`. A few false alarms
("points.Total" without a space) are the price: the merchant adds a space.
"""

from __future__ import annotations

import re
import unicodedata

_LINK = re.compile(
    r"""
    (?:https?://|www\.)[^\s]+                                  # a scheme, or www.
    | \b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b(?:/[^\s]*)?   # a domain
    | \b(?:\d{1,3}\.){3}\d{1,3}\b                               # an IPv4 address
    """,
    re.IGNORECASE | re.VERBOSE)


def find_link(text: str | None) -> str | None:
    """The first link in `text` (as written there, folded), or None."""
    if not text:
        return None
    found = _LINK.search(unicodedata.normalize("NFKC", text))
    return found.group(0) if found else None
