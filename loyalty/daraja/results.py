"""Values the client returns. Codes stay strings: Daraja mixes "0", 0 and "SFC_IC0003"."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegisterUrlsResult:
    version: str  # the C2B product version that accepted the registration ("v1" | "v2")
    response_code: str | None
    description: str
    originator_conversation_id: str | None


@dataclass(frozen=True)
class StkPushResult:
    """ResponseCode "0" only means the prompt was queued; the outcome arrives later."""

    merchant_request_id: str
    checkout_request_id: str  # persist before returning: it correlates callback and query
    response_code: str
    description: str
    customer_message: str


@dataclass(frozen=True)
class StkQueryResult:
    pending: bool  # the customer has not acted yet: ask again later
    result_code: str | None
    result_desc: str | None
    merchant_request_id: str | None
    checkout_request_id: str | None

    @property
    def succeeded(self) -> bool:
        return not self.pending and self.result_code == "0"


@dataclass(frozen=True)
class AsyncAccepted:
    """Safaricom queued the request; the result is POSTed to the ResultURL later and is
    matched to this request by these ids."""

    originator_conversation_id: str | None
    conversation_id: str | None
    response_code: str
    description: str
