"""The Account Balance check of a channel's initiator, asked when the channel is verified.

Safaricom's acknowledgement only says the query was queued; whether the initiator name and
password work (an API operator with the Balance Query role) is known when the result
arrives at the ResultURL (DARAJA.md 9). So verification records `account_balance`
"pending", and `account_balance_accessible` turns true only on a result with ResultCode 0.
"""

from __future__ import annotations

from typing import Any

from loyalty.daraja.callbacks import AsyncResult
from loyalty.models import AsyncRequest, StepState
from loyalty.models.base import utcnow
from loyalty.services import async_requests
from loyalty.services.channels import get_channel

PENDING = "pending"          # asked; the result has not arrived
ACCESSIBLE = "accessible"    # a result with ResultCode 0
REFUSED = "refused"          # refused at once, or a result with another ResultCode
TIMED_OUT = "timed_out"      # Safaricom's queue timed out before answering
NOT_CONFIGURED = "not_configured"  # no initiator on the channel: nothing asked

INITIATOR_HELP = ("Check the initiator name and password: an API operator with the "
                  "Balance Query role on the M-PESA org portal.")


def on_result(asked: AsyncRequest, result: AsyncResult, payload: dict[str, Any]) -> str | None:
    """Record the balance result on the channel's verification; why not, for the log."""
    if result.succeeded:
        return _update(asked, account_balance=ACCESSIBLE, account_balance_accessible=True,
                       account_balance_error=None)
    return _update(asked, account_balance=REFUSED, account_balance_accessible=False,
                   account_balance_error=(f"Safaricom refused the balance query: "
                                          f"{result.result_desc} ({result.result_code}). "
                                          f"{INITIATOR_HELP}"))


def on_timeout(asked: AsyncRequest) -> str | None:
    return _update(asked, account_balance=TIMED_OUT, account_balance_accessible=False,
                   account_balance_error="Safaricom's queue timed out before answering the "
                                         "balance query; verify the channel again.")


def on_unanswered(asked: AsyncRequest) -> str | None:
    return _update(asked, account_balance=TIMED_OUT, account_balance_accessible=False,
                   account_balance_error="Safaricom never answered the balance query; verify "
                                         "the channel again.")


def _update(asked: AsyncRequest, **changes: Any) -> str | None:
    channel = get_channel(asked.channel_id)
    if channel.verification_state != StepState.DONE or not channel.verification_details:
        return "The channel is not verified any more; this result changed nothing."
    if async_requests.newer_exists(asked):
        return "The channel asked for its balance again since; this result changed nothing."
    details = {**channel.verification_details, **changes,
               "account_balance_checked_at": utcnow().isoformat()}
    if details.get("account_balance_error") is None:
        details.pop("account_balance_error", None)
    channel.verification_details = details  # a new dict: the JSON column sees the change
    return None
