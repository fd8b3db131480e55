"""The dashboard's setup checklist: channel → verified → URLs → active → rules → first
payment, each step done or not, and the first undone one as a link (the next step)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import gettext as _

from loyalty.models.channels import StepState
from loyalty.web.reads import ChannelSummary


@dataclass(frozen=True)
class Step:
    label: str
    done: bool
    url: str
    action: str  # the link's words when this is the next step


def setup_checklist(overview: list[ChannelSummary], *,
                    keep_when_done: bool = False) -> list[Step] | None:
    """The steps for the channel being set up (the primary, else the first); None once
    everything is done, so a running shop's dashboard is not cluttered, unless
    `keep_when_done` (a dashboard left open with the checklist on it: its live part shows
    the last step ticked)."""
    if not overview:
        return _steps(None, has_payment=False)
    summary = next((s for s in overview if s.channel.is_primary), overview[0])
    steps = _steps(summary, has_payment=any(s.last_payment for s in overview))
    return None if all(step.done for step in steps) and not keep_when_done else steps


def _steps(summary: ChannelSummary | None, *, has_payment: bool) -> list[Step]:
    # In the page's language: built per request.
    channel = summary.channel if summary else None
    setup = url_for("web.channel_setup", channel_id=channel.id) if channel else \
        url_for("web.new_channel")
    return [
        Step(_("Add your PayBill or Till"), channel is not None, url_for("web.new_channel"),
             _("Add a channel")),
        Step(_("Verify it with Safaricom"),
             channel is not None and channel.verification_state == StepState.DONE, setup,
             _("Verify with Safaricom")),
        Step(_("Register the payment URLs"),
             channel is not None and channel.urls_state == StepState.DONE, setup,
             _("Register the payment URLs")),
        Step(_("Activate the channel"), channel is not None and channel.is_active, setup,
             _("Activate the channel")),
        Step(_("Choose which program payments earn in"), bool(channel and channel.account_mapping),
             url_for("web.channel_mapping", channel_id=channel.id) if channel else setup,
             _("Set account rules")),
        Step(_("Receive the first payment"), has_payment, _first_payment_url(channel),
             _("Make a test payment") if _emulated(channel) else _("See the payments")),
    ]


def _emulated(channel) -> bool:
    return bool(current_app.config["DARAJA_EMULATOR"] and channel is not None
                and channel.environment.value == "sandbox")


def _first_payment_url(channel) -> str:
    return "/_emulator/" if _emulated(channel) else url_for("web.transactions")
