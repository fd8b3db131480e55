"""What can go wrong when talking to Safaricom, as a small hierarchy callers can act on.

Callers branch on the class, never on message text:
- `BadCredentials`: the merchant must fix the consumer key/secret.
- `RequestRejected` (and subclasses): Safaricom refused this request; retrying the same
  request will fail the same way, so record the reason and show it to the merchant.
- `DarajaUnavailable` (and `RateLimited`): transient; Celery retries with backoff. STK push
  is the exception: the prompt may already be on the customer's phone, so query first.

Every message is built by this package from error codes and Safaricom's short error text,
never from request bodies, so no secret can reach a log or an API response through str().
"""

from __future__ import annotations


class DarajaError(Exception):
    """Base class: `.code` is Daraja's errorCode/ResultCode (or None), `.http_status` the
    HTTP status (None when no answer arrived), `.message` the safe human message."""

    def __init__(self, message: str, *, code: str | None = None,
                 http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.message!r}, code={self.code!r}, "
                f"http_status={self.http_status!r})")


class BadCredentials(DarajaError):
    """OAuth refused the consumer key/secret, or a fresh token was refused as well."""


class RequestRejected(DarajaError):
    """Safaricom refused the request itself (bad field, business rule, URL rules...)."""


class UrlsAlreadyRegistered(RequestRejected):
    """Production allows one C2B URL registration per shortcode (DARAJA.md 4.1, 4.2)."""


class ProductNotEnabled(RequestRejected):
    """401.003.01: the Daraja app lacks the API product (or C2B version) for this call."""


class InvalidRequest(RequestRejected):
    """Our own validation refused the request before anything was sent; `.field` names
    the offending argument so the API layer can return a 422 on that field."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field

    def __repr__(self) -> str:
        return f"InvalidRequest({self.message!r}, field={self.field!r})"


class DarajaUnavailable(DarajaError):
    """No usable answer: timeout, connection error, 5xx page, maintenance. Retry later."""


class RateLimited(DarajaUnavailable):
    """500.003.02 spike arrest or 500.003.03 quota: back off before retrying."""


URL_MANAGEMENT_HELP = (
    "To change them, delete the existing registration in the Daraja portal "
    "(Self Service > URL Management) and register again, or email "
    "apisupport@safaricom.co.ke from the shortcode owner's address asking them to remove it."
)
BROKER_HELP = (
    "Safaricom says these URLs are registered on its older broker (VPN/MPLS) platform. "
    "Ask apisupport@safaricom.co.ke to delete that registration first, then register again."
)
