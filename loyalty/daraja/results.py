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


# What a Reversal result code means to the merchant (DARAJA.md 16). Other codes are shown
# with Safaricom's own ResultDesc.
ALREADY_REVERSED = "R000001"
REVERSAL_RESULTS = {
    "0": "M-Pesa sent the money back to the customer.",
    ALREADY_REVERSED: "M-Pesa says this payment was already reversed (R000001). If it was "
                      "reversed on the M-PESA portal or by customer care, mark it as reversed "
                      "here to take its points back.",
    "R000002": "M-Pesa does not know this receipt as a payment to your number (R000002: "
               "invalid original transaction), so nothing was reversed.",
    "1": "Your M-Pesa account does not hold enough money to send back (1: insufficient "
         "balance).",
    "11": "M-Pesa refused: the account to be debited is in an invalid state (11).",
    "21": "Your API operator (the initiator) lacks the \"Org Reversals Initiator\" role (21): "
          "add it on the M-PESA org portal.",
    "2001": "M-Pesa refused the initiator's name or password (2001).",
    "2006": "A rule on your M-Pesa account declined the reversal (2006).",
    "2028": "Your Daraja app or number may not reverse payments (2028): add the Reversal "
            "product to the app on the Daraja portal.",
    "8006": "The initiator's security credential is locked (8006): reset the API operator's "
            "password on the M-PESA org portal.",
}


def reversal_outcome(code: str | None) -> str | None:
    """A sentence for the merchant about a Reversal result code, when it is a known one."""
    return REVERSAL_RESULTS.get(code or "")
