"""Sending one signed webhook request to a merchant's endpoint (the HTTP edge of
services/webhooks/delivery.py). Knows nothing of the app: a URL, a body, the secrets.

Every delivery carries `Loyalty-Signature: t=<unix time>,v1=<hex>`, the HMAC-SHA256 of
f"{t}.{body}" under the endpoint's secret (crypto.webhook_signature); right after a
rotation a second `v1` signs with the previous secret. docs/WEBHOOKS.md shows a receiver.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from loyalty.crypto import webhook_signature

USER_AGENT = "MpesaLoyalty-Webhooks/1"
# What is kept of a refusing receiver's answer, to show the merchant why.
EXCERPT = 200


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signature_header(secrets: list[str], timestamp: int, body: str) -> str:
    """`t=…,v1=…[,v1=…]`: one v1 per secret (the current one first)."""
    return ",".join([f"t={timestamp}"] + [f"v1={webhook_signature(s, timestamp, body)}"
                                          for s in secrets])


def headers_for(*, event_id: str, event_type: str, attempt: int, secrets: list[str],
                body: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers of one delivery attempt."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT,
            "Loyalty-Event-Id": event_id, "Loyalty-Event-Type": event_type,
            "Loyalty-Delivery-Attempt": str(attempt),
            "Loyalty-Signature": signature_header(secrets, timestamp, body)}


class PrivateAddress(Exception):
    """The endpoint's host resolves to an address that is not on the public internet."""


def check_public_host(url: str) -> None:
    """Refuse a host that resolves to loopback, a private network or the like (production):
    a merchant's URL must never make the platform call its own internal services."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise PrivateAddress(f"the host {host!r} could not be resolved ({exc})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise PrivateAddress(f"the host {host!r} resolves to {address}, which is not a "
                                 "public internet address")


def post(session: requests.Session, url: str, body: str, headers: dict[str, str], *,
         timeout: float, public_only: bool) -> Outcome:
    """POST the body; never raises for the receiver's faults (they are the outcome).
    Redirects are not followed: a 3xx is a failure the merchant can see and fix."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        if public_only:
            check_public_host(url)
        response = session.post(url, data=body.encode("utf-8"), headers=headers,
                                timeout=timeout, allow_redirects=False, stream=True)
    except PrivateAddress as exc:
        return Outcome(None, f"Refused: {exc}.", took())
    except requests.Timeout:
        return Outcome(None, f"No answer within {timeout:g} s.", took())
    except requests.RequestException as exc:
        return Outcome(None, f"Could not connect: {type(exc).__name__}.", took())
    try:
        excerpt = "" if 200 <= response.status_code < 300 else _excerpt(response)
    finally:
        response.close()
    if 200 <= response.status_code < 300:
        return Outcome(response.status_code, None, took())
    return Outcome(response.status_code,
                   f"HTTP {response.status_code}" + (f": {excerpt}" if excerpt else ""), took())


def _excerpt(response: requests.Response) -> str:
    try:
        raw = next(response.iter_content(EXCERPT * 4), b"")
    except requests.RequestException:
        return ""
    text = raw.decode("utf-8", errors="replace")
    return " ".join(text.split())[:EXCERPT]
