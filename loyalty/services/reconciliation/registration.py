"""Registering a channel's shortcode for Pull Transactions (DARAJA.md 4.8).

Done once per shortcode, with a Safaricom phone of the organisation (the "nominated
number" on the shortcode's KYC), never the shortcode itself. Safaricom answers `1000` the
first time and `1001` ever after; both mean the shortcode can be pulled. As with the other
onboarding steps the web side records the request and queues a task, and the worker holds
no transaction while Safaricom answers.
"""

from __future__ import annotations

from typing import Any

from loyalty import background
from loyalty.background import TaskName
from loyalty.daraja.errors import BadCredentials, DarajaUnavailable, RequestRejected
from loyalty.errors import Conflict
from loyalty.models import MpesaChannel, StepState
from loyalty.models.base import utcnow
from loyalty.services.channel_setup import channel_access
from loyalty.services.channels import get_channel
from loyalty.unit_of_work import transactional, unit_of_work


@transactional
def request_pull_registration(channel_id: int, nominated_number: str) -> MpesaChannel:
    """Queue the channel's Pull registration with `nominated_number` (2547…/2541…).

    Raises Conflict (`credentials_missing`) when the channel has no consumer key/secret."""
    channel = get_channel(channel_id)
    if not channel.has_credentials:
        raise Conflict("Add the channel's consumer key and consumer secret first.",
                       code="credentials_missing")
    channel.pull_nominated_number = nominated_number
    channel.pull_state = StepState.PENDING
    channel.pull_error = None
    background.enqueue(TaskName.REGISTER_PULL, channel.merchant_id, channel.id)
    return channel


def register_pull(channel_id: int, *, final_attempt: bool = True) -> None:
    """Worker: register the channel's C2B shortcode for Pull Transactions. Raises
    DarajaUnavailable for a retry unless this is the last attempt."""
    access = channel_access(channel_id)
    with unit_of_work():
        nominated = get_channel(channel_id).pull_nominated_number or ""
    try:
        access.client().pull_register(shortcode=access.c2b_shortcode, nominated_number=nominated,
                                      callback_url=access.callback_urls["pull_result"])
        outcome: dict[str, Any] = {"error": None}
    except BadCredentials:
        outcome = {"error": "Safaricom refused the consumer key and secret; verify the "
                            "channel again."}
    except RequestRejected as exc:
        outcome = {"error": f"Safaricom refused the Pull registration: {exc} The shortcode "
                            "must be live, and the nominated number must be the one on its "
                            "M-Pesa KYC details."}
    except DarajaUnavailable as exc:
        if not final_attempt:
            raise
        outcome = {"error": f"Safaricom could not be reached ({exc}). Try registering again "
                            "in a few minutes."}
    with unit_of_work():
        _record_pull_registration(channel_id, **outcome)


def _record_pull_registration(channel_id: int, *, error: str | None) -> None:
    channel = get_channel(channel_id)
    if error is None:
        channel.pull_state = StepState.DONE
        channel.pull_registered_at = utcnow()
    else:
        channel.pull_state = StepState.FAILED
    channel.pull_error = error


def pull_outcome(channel: MpesaChannel) -> dict[str, Any] | None:
    """The answer to `?wait=N` once the registration is done, or None while pending."""
    if channel.pull_state in (StepState.PENDING, StepState.NONE):
        return None
    return {"registered": channel.pull_state == StepState.DONE,
            "nominated_number": channel.pull_nominated_number,
            "registered_at": channel.pull_registered_at, "channel": channel}
