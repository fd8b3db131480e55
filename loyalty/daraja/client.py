"""The one class that sends requests to Safaricom (STYLE.md example 14).

A client is cheap: one per call site, built by `loyalty.daraja.client_for` from the shared
session and token cache. It checks arguments, builds bodies (payloads.py), sends them
through the transport (transport.py: tokens, HTTP, error mapping) and returns dataclasses.
It never retries on its own beyond the transport's one retry after a refused token;
everything else is the caller's decision, because an STK push must never be sent twice
blindly (DARAJA.md 11).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests

from loyalty.daraja import payloads, pull
from loyalty.daraja.errors import (
    DarajaUnavailable,
    InvalidRequest,
    ProductNotEnabled,
    RequestRejected,
)
from loyalty.daraja.replies import Reply, error_for
from loyalty.daraja.results import (
    AsyncAccepted,
    RegisterUrlsResult,
    StkPushResult,
    StkQueryResult,
)
from loyalty.daraja.tokens import TokenCache
from loyalty.daraja.transport import Transport
from loyalty.daraja.url_rules import UrlRuleViolation, check_callback_url

log = logging.getLogger(__name__)

STK_PENDING_CODE = "500.001.1001"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DarajaClient:
    """Daraja calls for one app (environment + consumer key/secret) of one merchant."""

    def __init__(self, *, session: requests.Session, base_url: str, environment: str,
                 consumer_key: str, consumer_secret: str, token_cache: TokenCache,
                 timeout: float = 10.0, clock: Callable[[], datetime] = _utcnow,
                 public_urls_only: bool = False) -> None:
        self._transport = Transport(
            session=session, base_url=base_url, environment=environment,
            consumer_key=consumer_key, consumer_secret=consumer_secret, token_cache=token_cache,
            timeout=timeout)
        self.base_url = self._transport.base_url
        self.environment = environment
        self._clock = clock
        self._public_urls_only = public_urls_only  # a production-config platform

    def __repr__(self) -> str:
        return f"<DarajaClient {self.environment} {self.base_url} app={self._transport.app}>"

    # --- OAuth ------------------------------------------------------------------------------

    def access_token(self, *, force_refresh: bool = False) -> str:
        """A valid token from the shared cache, fetching one (single-flight) when needed.
        `force_refresh` always mints a new one: used to verify freshly entered keys."""
        return self._transport.access_token(force_refresh=force_refresh)

    # --- C2B --------------------------------------------------------------------------------

    def register_c2b_urls(self, *, shortcode: str, confirmation_url: str, validation_url: str,
                          response_type: str = "Completed", version: str = "v2") -> RegisterUrlsResult:
        """Register the C2B URLs; on "no apiproduct match" try the other C2B version once."""
        if version not in payloads.C2B_VERSIONS:
            raise InvalidRequest("The C2B version must be v1 or v2.", field="version")
        self._check_url(confirmation_url, "confirmation_url")
        self._check_url(validation_url, "validation_url")
        body = payloads.register_urls_body(shortcode=shortcode, confirmation_url=confirmation_url,
                                           validation_url=validation_url, response_type=response_type)
        try:
            return self._register(version, body)
        except ProductNotEnabled:
            # The path must match the C2B product version on the app (DARAJA.md 3).
            other = "v1" if version == "v2" else "v2"
            log.info("C2B %s is not enabled on app %s; trying %s", version,
                     self._transport.app, other)
        try:
            return self._register(other, body)
        except ProductNotEnabled as exc:
            raise ProductNotEnabled(
                "The Daraja app has neither C2B v1 nor C2B v2 enabled: add the Customer To "
                "Business product to the app on the Daraja portal, then try again.",
                code=exc.code, http_status=exc.http_status) from None

    def _register(self, version: str, body: dict[str, Any]) -> RegisterUrlsResult:
        action = "register the C2B URLs"
        reply = self._post(f"/mpesa/c2b/{version}/registerurl", body, action=action)
        data = reply.data or {}
        code = _opt_str(data.get("ResponseCode"))
        description = str(data.get("ResponseDescription") or "")
        # Old sandbox answers carried no ResponseCode, only "success" in some casing.
        succeeded = code == "0" or description.strip().lower().startswith("success")
        if reply.status < 300 and reply.data is not None and succeeded:
            return RegisterUrlsResult(
                version=version, response_code=code, description=description,
                originator_conversation_id=_opt_str(  # sic: Safaricom's "Coversation"
                    data.get("OriginatorCoversationID") or data.get("OriginatorConversationID")))
        raise error_for(reply, action=action)

    def c2b_simulate(self, *, shortcode: str, amount: int, msisdn: str, bill_ref: str | None,
                     command_id: str = "CustomerPayBillOnline", version: str = "v1") -> dict:
        """Ask the sandbox to pretend a customer paid; the result arrives as C2B callbacks."""
        if self.environment != "sandbox":
            raise InvalidRequest("C2B simulate works only in the sandbox; production payments "
                                 "come from a phone.", field="environment")
        if version not in payloads.C2B_VERSIONS:
            raise InvalidRequest("The C2B version must be v1 or v2.", field="version")
        body = payloads.c2b_simulate_body(shortcode=shortcode, amount=amount, msisdn=msisdn,
                                          bill_ref=bill_ref, command_id=command_id)
        action = "simulate a C2B payment"
        reply = self._post(f"/mpesa/c2b/{version}/simulate", body, action=action)
        if not _accepted(reply):
            raise error_for(reply, action=action)
        data = dict(reply.data or {})
        if "OriginatorCoversationID" in data:
            data.setdefault("OriginatorConversationID", data["OriginatorCoversationID"])
        return data

    # --- M-Pesa Express (STK) ---------------------------------------------------------------

    def stk_push(self, *, business_shortcode: str, passkey: str, party_b: str,
                 transaction_type: str, amount: int, phone: str, callback_url: str,
                 account_reference: str, description: str) -> StkPushResult:
        """Send the PIN prompt. Never retried: on DarajaUnavailable the prompt may be on the
        customer's phone already, so callers must look for its outcome before pushing again."""
        self._check_url(callback_url, "callback_url")
        timestamp = payloads.eat_timestamp(self._clock())
        body = payloads.stk_push_body(
            business_shortcode=business_shortcode, passkey=passkey, party_b=party_b,
            transaction_type=transaction_type, amount=amount, phone=phone,
            callback_url=callback_url, account_reference=account_reference,
            description=description, timestamp=timestamp)
        action = "send the M-Pesa Express prompt"
        reply = self._post("/mpesa/stkpush/v1/processrequest", body, action=action,
                           secrets=(passkey, body["Password"]))
        data = reply.data or {}
        if _accepted(reply) and data.get("CheckoutRequestID"):
            return StkPushResult(
                merchant_request_id=str(data.get("MerchantRequestID") or ""),
                checkout_request_id=str(data["CheckoutRequestID"]),
                response_code=str(data.get("ResponseCode", "0")),
                description=str(data.get("ResponseDescription") or ""),
                customer_message=str(data.get("CustomerMessage") or ""))
        if _accepted(reply):
            raise DarajaUnavailable("Safaricom accepted the prompt but sent no CheckoutRequestID.",
                                    http_status=reply.status)
        raise error_for(reply, action=action)

    def stk_query(self, *, business_shortcode: str, passkey: str,
                  checkout_request_id: str) -> StkQueryResult:
        """Ask how an STK push ended; `pending=True` while the customer has not acted."""
        timestamp = payloads.eat_timestamp(self._clock())
        body = payloads.stk_query_body(business_shortcode=business_shortcode, passkey=passkey,
                                       checkout_request_id=checkout_request_id, timestamp=timestamp)
        action = "check the M-Pesa Express payment"
        reply = self._post("/mpesa/stkpushquery/v1/query", body, action=action,
                           secrets=(passkey, body["Password"]))
        if reply.code == STK_PENDING_CODE and "being processed" in reply.message.lower():
            # Daraja answers "still waiting for the customer" as an HTTP 500 (DARAJA.md 6.6).
            return StkQueryResult(pending=True, result_code=None, result_desc=reply.message,
                                  merchant_request_id=None,
                                  checkout_request_id=body["CheckoutRequestID"])
        if not _accepted(reply):
            raise error_for(reply, action=action)
        data = reply.data or {}
        result_code = _opt_str(data.get("ResultCode"))
        return StkQueryResult(
            pending=result_code is None, result_code=result_code,
            result_desc=_opt_str(data.get("ResultDesc")),
            merchant_request_id=_opt_str(data.get("MerchantRequestID")),
            checkout_request_id=_opt_str(data.get("CheckoutRequestID")))

    # --- Pull Transactions (reconciliation: DARAJA.md 4.8, 17) -------------------------------

    def pull_register(self, *, shortcode: str, nominated_number: str,
                      callback_url: str) -> pull.PullRegistration:
        """Register the shortcode for Pull Transactions; "already registered" is success."""
        self._check_url(callback_url, "callback_url")
        body = payloads.pull_register_body(shortcode=shortcode, nominated_number=nominated_number,
                                           callback_url=callback_url)
        action = "register the shortcode for Pull Transactions"
        data = self._pull_answer(self._post("/pulltransactions/v1/register", body, action=action),
                                 action)
        status = pull.status_of(data)
        description = pull.description_of(data)
        if status in (pull.REGISTERED, pull.ALREADY_REGISTERED):
            return pull.PullRegistration(status=status, description=description,
                                         response_ref_id=_opt_str(data.get("ResponseRefID")))
        raise RequestRejected(
            f"Safaricom did not register the shortcode for Pull Transactions (status "
            f"{status or 'missing'}){': ' + description[:200] if description else ''}.",
            code=status or None, http_status=200)

    def pull_query(self, *, shortcode: str, start: datetime, end: datetime,
                   offset: int = 0) -> pull.PullPage:
        """One page of the shortcode's C2B transactions in [start, end] (at most the last
        48 hours), from row `offset`; an empty page means there are no more."""
        body = payloads.pull_query_body(shortcode=shortcode, start=start, end=end, offset=offset)
        action = "pull the shortcode's transactions"
        data = self._pull_answer(self._post("/pulltransactions/v1/query", body, action=action),
                                 action)
        code = _opt_str(data.get("ResponseCode")) or ""
        message = pull.description_of(data)
        if code not in (pull.ROWS_FOUND, pull.NO_ROWS, ""):
            raise RequestRejected(
                f"Safaricom answered the Pull query with code {code}"
                f"{': ' + message[:200] if message else ''}.", code=code, http_status=200)
        return pull.PullPage(response_code=code, message=message,
                             response_ref_id=_opt_str(data.get("ResponseRefID")),
                             rows=pull.rows_of(data))

    @staticmethod
    def _pull_answer(reply: Reply, action: str) -> dict[str, Any]:
        """The JSON object of a Pull answer, or the error family for its failure. Pull's
        success envelope uses codes 1000/1001 (not "0"), so `_accepted` does not apply;
        its errors are `400.001` (rejected), `401.001` (the token: the transport already
        retried once) and `500` (failed to retrieve: retry later)."""
        data = reply.data
        error_code = None if data is None else _opt_str(data.get("errorCode"))
        if reply.status < 300 and data is not None and error_code is None \
                and not isinstance(data.get("fault"), dict):
            return data
        if error_code == "500" or (error_code is None and reply.status >= 500):
            raise DarajaUnavailable(
                f"Safaricom could not {action} right now (HTTP {reply.status})"
                f"{': ' + reply.message[:200] if reply.message else ''}.",
                code=error_code, http_status=reply.status)
        raise error_for(reply, action=action)

    # --- Account Balance, Transaction Status (results arrive at ResultURL) ------------------

    def account_balance(self, *, initiator: str, security_credential: str, party_a: str,
                        result_url: str, timeout_url: str, identifier_type: str = "4",
                        remarks: str = "Balance") -> AsyncAccepted:
        """Queue a balance query; Safaricom POSTs the balances to `result_url`."""
        self._check_url(result_url, "result_url")
        self._check_url(timeout_url, "timeout_url")
        body = payloads.account_balance_body(
            initiator=initiator, security_credential=security_credential, party_a=party_a,
            identifier_type=identifier_type, result_url=result_url, timeout_url=timeout_url,
            remarks=remarks)
        return self._async("/mpesa/accountbalance/v1/query", body,
                           action="query the account balance", secrets=(security_credential,))

    def transaction_status(self, *, initiator: str, security_credential: str, party_a: str,
                           result_url: str, timeout_url: str, transaction_id: str = "",
                           original_conversation_id: str = "", identifier_type: str = "4",
                           remarks: str = "Status", occasion: str = "") -> AsyncAccepted:
        """Queue a status query for an M-Pesa receipt, or for the request of
        `original_conversation_id` when the receipt is unknown; the result goes to
        `result_url`."""
        self._check_url(result_url, "result_url")
        self._check_url(timeout_url, "timeout_url")
        body = payloads.transaction_status_body(
            initiator=initiator, security_credential=security_credential,
            transaction_id=transaction_id, party_a=party_a, identifier_type=identifier_type,
            result_url=result_url, timeout_url=timeout_url, remarks=remarks, occasion=occasion,
            original_conversation_id=original_conversation_id)
        return self._async("/mpesa/transactionstatus/v1/query", body,
                           action="query the transaction status", secrets=(security_credential,))

    # --- Reversal (the result arrives at ResultURL: DARAJA.md 16) ---------------------------

    def reversal(self, *, initiator: str, security_credential: str, transaction_id: str,
                 amount: object, receiver_party: str, result_url: str, timeout_url: str,
                 remarks: str, occasion: str = "") -> AsyncAccepted:
        """Ask M-Pesa to send a payment back to the payer. The acknowledgement only means
        the request was queued: act on the result's ResultCode 0, never on this."""
        self._check_url(result_url, "result_url")
        self._check_url(timeout_url, "timeout_url")
        body = payloads.reversal_body(
            initiator=initiator, security_credential=security_credential,
            transaction_id=transaction_id, amount=amount, receiver_party=receiver_party,
            result_url=result_url, timeout_url=timeout_url, remarks=remarks, occasion=occasion)
        return self._async("/mpesa/reversal/v1/request", body, action="reverse the payment",
                           secrets=(security_credential,))

    def _async(self, path: str, body: dict[str, Any], *, action: str,
               secrets: tuple[str, ...]) -> AsyncAccepted:
        reply = self._post(path, body, action=action, secrets=secrets)
        if not _accepted(reply):
            raise error_for(reply, action=action)
        data = reply.data or {}
        return AsyncAccepted(
            originator_conversation_id=_opt_str(
                data.get("OriginatorConversationID") or data.get("OriginatorCoversationID")),
            conversation_id=_opt_str(data.get("ConversationID")),
            response_code=str(data.get("ResponseCode", "0")),
            description=str(data.get("ResponseDescription") or ""))

    # --- helpers -------------------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any], *, action: str,
              secrets: tuple[str, ...] = ()) -> Reply:
        return self._transport.post(path, body, action=action, secrets=secrets)

    def _check_url(self, url: str, field: str) -> None:
        try:
            check_callback_url(url, self.environment, public_only=self._public_urls_only)
        except UrlRuleViolation as exc:
            raise InvalidRequest(str(exc), field=field) from None


def _accepted(reply: Reply) -> bool:
    """2xx, a JSON object, no errorCode and ResponseCode "0" (or none)."""
    return reply.status < 300 and reply.data is not None and reply.code is None


def _opt_str(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
