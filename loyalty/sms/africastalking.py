"""Africa's Talking bulk SMS over its REST API (SMS.md sections 3.1 and 3.7).

One recipient per call: the outbox sends message by message, so each row gets its own
status, provider id and error. The outbox makes several calls at once
(services/messages.py, `SMS_CONCURRENCY`), so the backend keeps one requests.Session whose
connection pool holds that many connections: every call reuses a kept-alive connection
instead of opening (and TLS-handshaking) its own.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from loyalty.sms.base import (
    SendResult,
    SmsUnavailable,
    check_message,
    check_phone_hash,
    check_recipient,
    mask_msisdn,
    scrub,
)

log = logging.getLogger("loyalty.sms")

_SENT_CODES = frozenset({100, 101, 102})  # Processed, Sent, Queued
# Names for the per-recipient codes, used when AT leaves `status` out (SMS.md 3.1).
_CODE_NAMES = {
    100: "Processed", 101: "Sent", 102: "Queued",
    401: "RiskHold", 402: "InvalidSenderId", 403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType", 405: "InsufficientBalance", 406: "UserInBlacklist",
    407: "CouldNotRoute", 409: "DoNotDisturbRejection",
    500: "InternalServerError", 501: "GatewayError", 502: "RejectedByGateway",
}
_INSUFFICIENT_BALANCE = 405
_OUT_OF_CREDIT = "InsufficientBalance"
_SENT_WORDS = frozenset({"success", "sent", "queued", "processed", "submitted", "buffered"})
_FAILED_WORDS = frozenset({"failed", "failure", "rejected", "error", "invalid"})
# AT writes absent values as the string "None" (e.g. messageId of a failed recipient).
_ABSENT = frozenset({"", "none", "null"})


class AfricasTalkingBackend:
    """Send SMS through Africa's Talking; see `loyalty.sms.base` for the result contract."""

    def __init__(
        self,
        *,
        username: str,
        api_key: str,
        sender_id: str | None,
        base_url: str,
        session: requests.Session | None = None,
        timeout: float = 10,
        pool_size: int = 10,
        account: str = "platform",
    ) -> None:
        if not username:
            raise ValueError("Africa's Talking needs a username (AT_USERNAME)")
        if not api_key:
            raise ValueError("Africa's Talking needs an API key (AT_API_KEY)")
        self.username = username
        self.sender_id = sender_id or None
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.account = account
        self._api_key = api_key
        self._session = session or _pooled_session(pool_size)
        # Proxies and the CA bundle from the environment, read once: requests reads them
        # (and ~/.netrc) again on every call otherwise, a fifth of a call's CPU at hundreds
        # of texts a second.
        self._transport = {k: v for k, v in self._session.merge_environment_settings(
            self.base_url, {}, None, None, None).items() if k in ("proxies", "verify", "cert")}
        if session is None:
            self._session.trust_env = False

    def __repr__(self) -> str:
        # Never the key: backends end up in tracebacks and debug logs.
        return f"AfricasTalkingBackend(username={self.username!r}, base_url={self.base_url!r})"

    def send(self, to: str, message: str, *, timeout: float | None = None,
             sender_id: str | None = None) -> SendResult:
        """Text one Kenyan number; AT wants it in international `+254…` form. `sender_id`
        (a merchant's approved one) replaces the account's own for this text."""
        problem = check_recipient(to) or check_message(message)
        if problem:
            return self._logged(mask_msisdn(to), SendResult.failed(problem))
        data = {"username": self.username, "to": "+" + to, "message": message}
        if sender_id or self.sender_id:
            # Without `from`, AT uses its shared sender: right for sandbox and unregistered IDs.
            data["from"] = sender_id or self.sender_id
        response = self._post("/version1/messaging", data, timeout)
        result = self._http_failure(response) or self._messaging_result(_json(response))
        return self._logged(mask_msisdn(to), result)

    def send_hashed(self, phone_hash: str, message: str, *, timeout: float | None = None,
                    sender_id: str | None = None) -> SendResult:
        """Text a Safaricom payer known only by their hashed MSISDN (transactional only)."""
        problem = check_phone_hash(phone_hash) or check_message(message)
        if problem:
            return self._logged(mask_msisdn(phone_hash), SendResult.failed(problem))
        data = {
            "username": self.username,
            "maskedNumber": phone_hash,
            # Only Safaricom hashes M-Pesa payers, so only Safaricom can resolve the hash.
            "telco": "Safaricom",
            "message": message,
        }
        if sender_id or self.sender_id:
            data["senderId"] = sender_id or self.sender_id
        response = self._post("/version1/messaging/bulk", data, timeout)
        result = self._http_failure(response) or self._hashed_result(_json(response))
        return self._logged(mask_msisdn(phone_hash), result)

    def user_data(self, *, timeout: float | None = None) -> str:
        """The account's balance from AT's user-data endpoint (`GET /version1/user`), which
        proves the username and key work without sending a text. Raises SmsUnavailable
        when AT cannot be reached and PermissionError when it refuses the credentials."""
        seconds = self.timeout if timeout is None else timeout
        try:
            response = self._session.get(
                self.base_url + "/version1/user", params={"username": self.username},
                headers={"apiKey": self._api_key, "Accept": "application/json"},
                timeout=seconds, allow_redirects=False, **self._transport)
        except requests.RequestException as exc:
            raise SmsUnavailable(f"Africa's Talking unreachable: {type(exc).__name__}",
                                 code="unreachable") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise SmsUnavailable(f"Africa's Talking answered HTTP {response.status_code}",
                                 code=f"http_{response.status_code}")
        body = _json(response)
        data = body.get("UserData") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(data, dict):
            detail = scrub(" ".join(response.text.split()), self._api_key)[:200]
            raise PermissionError(f"Africa's Talking refused the username and API key "
                                  f"(HTTP {response.status_code} {detail})".rstrip())
        return scrub(str(data.get("balance") or ""), self._api_key)[:50]

    def _post(self, path: str, data: dict[str, str], timeout: float | None) -> requests.Response:
        """POST a form; raise SmsUnavailable when no usable answer came back."""
        headers = {"apiKey": self._api_key, "Accept": "application/json"}
        # The caller's bound (what is left of its claim on the message) wins over ours.
        seconds = self.timeout if timeout is None else max(0.01, min(self.timeout, timeout))
        try:
            # No redirects (the adapter follows none): requests would replay the apiKey
            # header to wherever AT points and turn the POST into a GET; a redirect here
            # means AT_BASE_URL is wrong.
            # Sent through the session's adapter (its connection pool) without the
            # session's per-call work: merging cookie jars and settings, hooks and the
            # redirect check cost a third of a call's CPU at hundreds of texts a second
            # (bench/README.md), and AT's API sets no cookies. Read at once, as the
            # session would: the connection goes back to the pool whatever the answer.
            request = requests.Request("POST", self.base_url + path, data=data,
                                       headers=headers).prepare()
            response = self._session.get_adapter(request.url).send(
                request, timeout=seconds, **self._transport)
            response.content  # noqa: B018 (read now: releases the connection)
        except requests.ConnectTimeout as exc:
            raise SmsUnavailable("Africa's Talking: connection timed out",
                                 code="timeout") from exc
        except requests.Timeout as exc:
            # The request went out, so a retry may text the customer twice.
            raise SmsUnavailable(
                "Africa's Talking: timed out waiting for an answer (the message may have been sent)",
                may_have_sent=True, code="timeout") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise SmsUnavailable(f"Africa's Talking unreachable: {type(exc).__name__}",
                                 code="unreachable") from exc
        if response.status_code == 429 or response.status_code >= 500:
            log.warning("Africa's Talking answered HTTP %s; will retry", response.status_code)
            raise SmsUnavailable(f"Africa's Talking answered HTTP {response.status_code}",
                                 code=f"http_{response.status_code}")
        return response

    def _http_failure(self, response: requests.Response) -> SendResult | None:
        """A failed result for a non-2xx answer that retrying will not fix, else None."""
        status = response.status_code
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            return SendResult.failed(f"Africa's Talking redirected (HTTP {status}): check AT_BASE_URL")
        # AT answers bad credentials with a short text body; keep it, minus anything secret.
        detail = scrub(" ".join(response.text.split()), self._api_key)[:200]
        hint = " (check AT_USERNAME and AT_API_KEY)" if status in (401, 403) else ""
        return SendResult.failed(
            f"Africa's Talking rejected the request: HTTP {status} {detail}".rstrip() + hint,
            code=f"http_{status}", out_of_credit=_OUT_OF_CREDIT in detail)

    def _messaging_result(self, body: Any) -> SendResult:
        """Read the documented `SMSMessageData.Recipients[]` answer of a send."""
        data = body.get("SMSMessageData") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            # AT may or may not have accepted it; not retryable, so no risk of a double text.
            return SendResult.failed("Africa's Talking answered without SMSMessageData "
                                     "(the message may have been sent)")
        recipients = data.get("Recipients")
        if not isinstance(recipients, list) or not recipients or not isinstance(recipients[0], dict):
            reason = scrub(str(data.get("Message") or "no recipient accepted"), self._api_key)
            # An account without credit may be answered so, with no recipient at all.
            return SendResult.failed(f"Africa's Talking sent nothing: {reason}",
                                     out_of_credit=_OUT_OF_CREDIT in reason)
        return _outcome(recipients[0], lenient=False)

    def _hashed_result(self, body: Any) -> SendResult:
        """Read the undocumented hashed-send answer: anything 2xx without a failure is sent."""
        if isinstance(body, dict) and "SMSMessageData" in body:
            return self._messaging_result(body)
        if isinstance(body, dict):
            return _outcome(body, lenient=True)
        return SendResult.sent()

    def _logged(self, who: str, result: SendResult) -> SendResult:
        if result.ok:
            # Debug: a busy sender makes hundreds of these a second (a tenth of its CPU as
            # INFO lines), and each text's outcome is on its outbox row; the sender logs one
            # line per send (services/messages.py).
            log.debug("SMS to %s accepted by Africa's Talking (id %s)", who, result.provider_message_id)
        else:
            log.warning("SMS to %s failed: %s (retryable=%s)", who, result.error, result.retryable)
        return result


def _outcome(item: dict[str, Any], *, lenient: bool) -> SendResult:
    """Classify one recipient entry (or a top-level hashed answer) by statusCode, then status."""
    code = _as_int(item.get("statusCode"))
    status = _text(item.get("status")) or ""
    message_id = _text(item.get("messageId")) or _text(item.get("id"))
    cost = _text(item.get("cost"))
    if code is not None:
        # The hashed endpoint is undocumented and might echo an HTTP-style 2xx code.
        if code in _SENT_CODES or (lenient and 200 <= code < 300):
            return SendResult.sent(message_id, cost, code=str(code))
        name = status or _CODE_NAMES.get(code, "Unknown")
        # 5xx recipient codes are AT's or the telco's trouble; 4xx are about this recipient,
        # but for 405: the account is out of credit, and the message is not at fault.
        return SendResult.failed(scrub(f"{code} {name}"), retryable=500 <= code <= 599,
                                 code=str(code), out_of_credit=code == _INSUFFICIENT_BALANCE)
    if status.lower() in _SENT_WORDS:
        return SendResult.sent(message_id, cost)
    error = _text(item.get("errorMessage"))
    if status.lower() in _FAILED_WORDS or error:
        return SendResult.failed(scrub(": ".join(filter(None, [status or "Failed", error]))))
    if lenient:
        return SendResult.sent(message_id, cost)
    return SendResult.failed("Africa's Talking gave no status for the message")


def _pooled_session(pool_size: int) -> requests.Session:
    """A session keeping up to `pool_size` connections to the gateway, shared by every
    thread that sends (urllib3's pool is thread-safe; the session adds no state of its
    own that calls would share: no cookies are set by AT's API)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(1, pool_size))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # requests' JSONDecodeError is a ValueError
        return None


def _as_int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return None if text.lower() in _ABSENT else text
