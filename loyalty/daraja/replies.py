"""Reading what Safaricom answered, and turning failures into the errors.py hierarchy.

Daraja answers errors as `{"requestId", "errorCode", "errorMessage"}` (DARAJA.md 11), but
proxies in front of it also answer with empty bodies, plain text and HTML pages, sometimes
with status 200. Nothing here trusts the body's shape, and no message carries more than a
short, cleaned and redacted excerpt of it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests

from loyalty.daraja.errors import (
    BROKER_HELP,
    URL_MANAGEMENT_HELP,
    DarajaError,
    DarajaUnavailable,
    ProductNotEnabled,
    RateLimited,
    RequestRejected,
    UrlsAlreadyRegistered,
)

SNIPPET_MAX = 200

# The gateway refused the token itself, before the request reached M-Pesa: refreshing
# the token and sending again is safe, even for an STK push.
TOKEN_REFUSED_CODES = frozenset({"404.001.03", "400.003.01", "401.002.01",
                                 "401.001"})  # Pull Transactions' "Invalid Access Token"
PRODUCT_NOT_ENABLED = "401.003.01"
RATE_LIMIT_CODES = frozenset({"500.003.02", "500.003.03"})
MAINTENANCE_CODES = frozenset({"00.002.1001"})
INTERNAL_ERROR = "500.003.1001"  # also used for "URLs already registered"

_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: the JSON object when there was one, else a safe excerpt."""

    status: int
    data: dict[str, Any] | None
    excerpt: str
    empty: bool = False

    @property
    def code(self) -> str | None:
        if self.data is None:
            return None
        value = self.data.get("errorCode")
        if value in (None, ""):
            fault = self.data.get("fault")
            if isinstance(fault, dict) and isinstance(fault.get("detail"), dict):
                value = fault["detail"].get("errorcode")  # raw Apigee fault shape
        if value in (None, "") and str(self.data.get("ResponseCode", "0")).strip() != "0":
            value = self.data["ResponseCode"]  # a refusal inside the success envelope
        return None if value in (None, "") else str(value).strip()

    @property
    def message(self) -> str:
        if self.data is None:
            return self.excerpt
        for key in ("errorMessage", "ResponseDescription", "ResultDesc"):
            if self.data.get(key) not in (None, ""):
                return str(self.data[key])
        fault = self.data.get("fault")
        if isinstance(fault, dict) and fault.get("faultstring"):
            return str(fault["faultstring"])
        return ""


def read_reply(response: requests.Response, secrets: Iterable[str], *,
               keep_excerpt: bool = True) -> Reply:
    """Parse a response and close it. `keep_excerpt=False` for bodies that may hold a
    secret of their own (an OAuth success carries the access token)."""
    try:
        text = response.text or ""
    finally:
        response.close()
    secrets = tuple(secrets)
    data: dict[str, Any] | None = None
    if text.lstrip()[:1] == "{":
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            data = _redact_value(parsed, secrets)
    excerpt = safe_excerpt(text, secrets) if keep_excerpt and data is None else ""
    return Reply(status=response.status_code, data=data, excerpt=excerpt, empty=not text.strip())


def safe_excerpt(text: str, secrets: Iterable[str]) -> str:
    """At most SNIPPET_MAX characters of readable text: an HTML page's title, or the text
    with tags dropped; any known secret replaced by ****."""
    title = _TITLE.search(text)
    readable = title.group(1) if title else _TAGS.sub(" ", text)
    readable = " ".join(html.unescape(readable).split())
    readable = redact(readable, secrets)
    if len(readable) > SNIPPET_MAX:
        readable = readable[:SNIPPET_MAX - 1] + "…"
    return readable


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:  # tiny values would mangle ordinary words
            text = text.replace(secret, "****")
    return text


def _redact_value(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {key: _redact_value(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_value(item, secrets) for item in value]
    return value


def token_refused(reply: Reply) -> bool:
    """True when the gateway refused the access token (refresh and send once more)."""
    code = reply.code
    if code == PRODUCT_NOT_ENABLED or "apiproduct" in reply.message.lower():
        return False
    if code in TOKEN_REFUSED_CODES or reply.status == 401:
        return True
    return "invalid access token" in reply.message.lower()


def error_for(reply: Reply, *, action: str) -> DarajaError:
    """The exception for a reply that is not a success. `action` says what we were doing,
    in words a merchant understands ("register the C2B URLs")."""
    code, status, said = reply.code, reply.status, _said(reply)
    text = reply.message.lower()
    if code == PRODUCT_NOT_ENABLED or "no apiproduct match" in text:
        return ProductNotEnabled(
            f"The Daraja app is not enabled for the API needed to {action}. Add the product "
            "to the app on the Daraja portal; a product added in the last hour takes effect "
            f"once a new token is issued (verify the channel again).{said}",
            code=code, http_status=status)
    if "already registered" in text:
        return UrlsAlreadyRegistered(
            f"Safaricom already holds callback URLs for this shortcode, and production "
            f"allows only one registration. {URL_MANAGEMENT_HELP}{said}",
            code=code, http_status=status)
    if "duplicate notification info" in text:
        return UrlsAlreadyRegistered(f"{BROKER_HELP}{said}", code=code, http_status=status)
    if code in RATE_LIMIT_CODES or status == 429:
        return RateLimited(f"Safaricom is limiting our requests; try again shortly.{said}",
                           code=code, http_status=status)
    if code in MAINTENANCE_CODES:
        return DarajaUnavailable(f"Safaricom is under maintenance.{said}",
                                 code=code, http_status=status)
    # A 2xx that reaches here carried a non-zero ResponseCode: a refusal, not an outage.
    if code is not None and (status < 300 or _is_rejection(code, status)):
        return RequestRejected(f"Safaricom refused the request to {action}.{said}",
                               code=code, http_status=status)
    if 400 <= status < 500 and status not in (408, 425):
        return RequestRejected(f"Safaricom refused the request to {action} "
                               f"(HTTP {status}).{said}", code=code, http_status=status)
    if reply.data is None:
        shape = "an empty answer" if reply.empty else "a page that is not Daraja JSON"
        return DarajaUnavailable(f"Safaricom gave {shape} (HTTP {status}) when asked to "
                                 f"{action}.{said}", code=code, http_status=status)
    return DarajaUnavailable(f"Safaricom could not {action} right now (HTTP {status}).{said}",
                             code=code, http_status=status)


def _is_rejection(code: str, status: int) -> bool:
    # 500.001.x / 500.002.x are business errors in a 500 envelope (wrong credentials,
    # merchant does not exist, duplicate OriginatorConversationID); 500.003.1001 without
    # the registration wording is Safaricom's own internal error, so retry that one.
    if code == INTERNAL_ERROR:
        return False
    if code.startswith(("500.001.", "500.002.")):
        return True
    return code[:1] == "4" or 400 <= status < 500


def _said(reply: Reply) -> str:
    """` Safaricom said: "..." (code)` with at most SNIPPET_MAX characters of their text."""
    message = " ".join(reply.message.split())
    if len(message) > SNIPPET_MAX:
        message = message[:SNIPPET_MAX - 1] + "…"
    if message and reply.code:
        return f' Safaricom said: "{message}" ({reply.code}).'
    if message:
        return f' Safaricom said: "{message}".'
    if reply.code:
        return f" Error code {reply.code}."
    return ""
