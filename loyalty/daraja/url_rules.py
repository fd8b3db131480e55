"""Safaricom's rules for callback URLs, checked before we ask Safaricom (DARAJA.md 4.2).

A production C2B registration is one-time per shortcode, so a URL Safaricom refuses (or
accepts but cannot reach) costs the merchant a support email. We catch what we can first.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import unquote, urlsplit

# Substrings, any case, anywhere in the URL: `executive-lounge`, `?query=` and `/MPesa/`
# are all refused. "exec" precedes "exe" so the longer word is the one we report.
FORBIDDEN_WORDS = ("m-pesa", "mpesa", "safaricom", "exec", "exe", "cmd", "sql", "query")

ENVIRONMENTS = ("sandbox", "production")

_RULES = ("forbidden_word", "https_required", "private_address", "malformed")


class UrlRuleViolation(ValueError):
    """A callback URL Safaricom would refuse; str() is a sentence for the merchant."""

    def __init__(self, message: str, *, rule: str, word: str | None = None) -> None:
        if rule not in _RULES:
            raise ValueError(f"unknown rule {rule!r}")
        super().__init__(message)
        self.rule = rule
        self.word = word


def check_callback_url(url: str, environment: str, *, public_only: bool = False) -> None:
    """Raise UrlRuleViolation when Safaricom would refuse `url` in `environment`.

    The sandbox accepts http and loopback hosts because the local emulator runs on
    127.0.0.1; production needs https and a publicly reachable host. `public_only` (the
    platform runs with APP_ENV=production) applies production's rules to sandbox channels
    too: a production platform's sandbox channel talks to Safaricom's real sandbox, which
    cannot reach a loopback or private address either, and an http:// URL there means a
    misconfigured PUBLIC_BASE_URL, better refused before Safaricom is asked.
    """
    if environment not in ENVIRONMENTS:
        raise ValueError(f"environment must be one of {ENVIRONMENTS}, not {environment!r}")
    parts = _split(url)
    _check_words(url)
    if environment == "sandbox" and not public_only:
        return
    if parts.scheme != "https":
        raise UrlRuleViolation(
            "Callback URLs must start with https:// here: Safaricom refuses plain http "
            "outside its sandbox, and this platform runs in production."
            if environment == "sandbox" else
            "Production callback URLs must start with https:// (Safaricom refuses plain "
            "http outside the sandbox).", rule="https_required")
    host = (parts.hostname or "").rstrip(".")
    if _is_private_host(host):
        raise UrlRuleViolation(
            f"Safaricom cannot reach {host!r}: callback URLs need a public domain or "
            "internet address, not localhost or a private network address.",
            rule="private_address")


def _split(url: object):
    if not isinstance(url, str) or not url.strip() or url != url.strip() or any(
            ch.isspace() for ch in url):
        raise UrlRuleViolation("The callback URL must be a web address without spaces.",
                               rule="malformed")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        raise UrlRuleViolation(f"{url!r} is not a valid web address.", rule="malformed") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRuleViolation(
            f"{url!r} is not a valid web address: it must start with https:// and name a host.",
            rule="malformed")
    return parts


def _check_words(url: str) -> None:
    # Also look at the percent-decoded form: "%6Dpesa" is still "mpesa" once decoded.
    haystacks = (url.lower(), unquote(url).lower())
    for word in FORBIDDEN_WORDS:
        if any(word in text for text in haystacks):
            raise UrlRuleViolation(
                f'The URL contains "{word}", which Safaricom refuses anywhere in a callback '
                "URL, in any case and even inside a longer word (for example \"executive\" "
                "contains \"exec\"). Use an address without it.",
                rule="forbidden_word", word=word)


def _is_private_host(host: str) -> bool:
    name = host.lower()
    if name == "localhost" or name.endswith((".localhost", ".local")):
        return True
    address = _as_ip(name)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    # Not global covers loopback, private, link-local, unspecified, shared (100.64/10) and
    # documentation ranges: none of them is reachable from Safaricom.
    return not address.is_global or address.is_multicast


def _as_ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    # Legacy IPv4 spellings ("127.1", "0x7f.0.0.1", "2130706433") still reach the loopback
    # through most resolvers; inet_aton decodes them without touching the network.
    if name and all(ch in "0123456789abcdefx." for ch in name) and name[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    return None
