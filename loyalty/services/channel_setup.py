"""Onboarding steps that talk to Safaricom: verify, register URLs, activate, health.

The web side only records the request and queues a task; the worker does the HTTP call.
No database transaction is held open while Safaricom answers: the worker reads what it
needs in one short unit of work, calls Daraja, and records the outcome in another (their
tasks say `owns_transaction=False`; the fan-out's task owns its transaction).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from loyalty import background, daraja
from loyalty.background import TaskName
from loyalty.daraja.errors import (
    BadCredentials,
    DarajaError,
    DarajaUnavailable,
    RequestRejected,
    UrlsAlreadyRegistered,
)
from loyalty.daraja.results import AsyncAccepted
from loyalty.daraja.security import security_credential
from loyalty.daraja.url_rules import UrlRuleViolation
from loyalty.errors import Conflict, ValidationFailed
from loyalty.extensions import db
from loyalty.models import Actor, AsyncKind, ChannelStatus, MpesaChannel, StepState
from loyalty.models.base import utcnow
from loyalty.models.channels import callback_urls
from loyalty.services import account_balance, async_requests, channel_activation, channel_events
from loyalty.services.channels import get_channel
from loyalty.tenancy import all_merchants, tenant_context
from loyalty.unit_of_work import transactional, unit_of_work

# Tasks retry these with backoff; anything else is final.
RETRYABLE = (DarajaUnavailable,)


@dataclass(frozen=True)
class ChannelAccess:
    """What a worker needs to call Daraja for one channel (secrets decrypted in memory)."""

    id: int
    environment: str
    shortcode: str
    c2b_shortcode: str
    c2b_version: str
    consumer_key: str
    consumer_secret: str
    initiator_name: str | None
    initiator_password: str | None
    callback_urls: dict[str, str]
    validation_url: str | None
    confirmation_url: str | None
    response_type: str | None

    def client(self):
        return daraja.client_for(environment=self.environment, consumer_key=self.consumer_key,
                                 consumer_secret=self.consumer_secret)


def channel_access(channel_id: int) -> ChannelAccess:
    """A worker's first step: read the channel and end the read's transaction, before the
    caller talks to Safaricom."""
    with unit_of_work():
        channel = get_channel(channel_id)
        return ChannelAccess(
            id=channel.id, environment=channel.environment.value, shortcode=channel.shortcode,
            c2b_shortcode=channel.c2b_shortcode, c2b_version=channel.c2b_version.value,
            consumer_key=channel.consumer_key or "", consumer_secret=channel.consumer_secret or "",
            initiator_name=channel.initiator_name, initiator_password=channel.initiator_password,
            callback_urls=_own_urls(channel), validation_url=channel.validation_url,
            confirmation_url=channel.confirmation_url, response_type=channel.response_type)


def _own_urls(channel: MpesaChannel) -> dict[str, str]:
    return callback_urls(current_app.config["CALLBACK_BASE_URL"], channel.callback_token)


def _require_credentials(channel: MpesaChannel) -> None:
    if not channel.has_credentials:
        raise Conflict("Add the channel's consumer key and consumer secret first.",
                       code="credentials_missing")


def _require_verified(channel: MpesaChannel, step: str) -> None:
    # Registering URLs with credentials Safaricom has not accepted would only fail there;
    # worse, on a shared sandbox shortcode it could overwrite a registration that works.
    if channel.verification_state != StepState.DONE:
        raise Conflict(f"Verify the channel with Safaricom before {step}.", code="not_verified")


# --- verification ------------------------------------------------------------------------


@transactional
def request_verification(channel_id: int) -> MpesaChannel:
    """Queue a check of the channel's credentials with Safaricom."""
    channel = get_channel(channel_id)
    _require_credentials(channel)
    channel.verification_state = StepState.PENDING
    channel.verification_error = channel.verification_error_code = None
    background.enqueue(TaskName.VERIFY_CHANNEL, channel.merchant_id, channel.id)
    return channel


def verify_channel(channel_id: int, *, final_attempt: bool = True) -> None:
    """Worker: get a token with the channel's credentials and, when an initiator is set,
    ask for the account balance. Raises a RETRYABLE error unless this is the last try."""
    outcome = _verification(channel_access(channel_id), final_attempt)
    with unit_of_work():
        _record_verification(channel_id, **outcome)


def _verification(access: ChannelAccess, final_attempt: bool) -> dict[str, Any]:
    """Ask Safaricom (no transaction open); the outcome to record."""
    try:
        access.client().access_token(force_refresh=True)
        balance, balance_error, asked = _try_account_balance(access)
    except BadCredentials:
        return {"ok": False, "code": "bad_credentials", "error": (
            "Safaricom refused the consumer key and secret. Copy them again from your app on "
            "the Daraja portal (sandbox and production apps have different keys).")}
    except DarajaUnavailable as exc:
        if not final_attempt:
            raise
        return {"ok": False, "code": "safaricom_unreachable", "error": (
            f"Safaricom could not be reached ({exc}). Try verifying again in a few minutes.")}
    # Accessible only once the balance result arrives with ResultCode 0 (account_balance.py).
    details = {"shortcode": access.shortcode, "account_balance_accessible": False,
               "account_balance": balance, "verified_at": utcnow().isoformat()}
    if balance_error:
        details["account_balance_error"] = balance_error
    return {"ok": True, "details": details, "balance_asked": asked}


def _try_account_balance(access: ChannelAccess) -> tuple[str, str | None, AsyncAccepted | None]:
    """Ask for the balance when the channel has an initiator: (state, error, the
    acknowledgement to match the result with)."""
    if not (access.initiator_name and access.initiator_password):
        return account_balance.NOT_CONFIGURED, None, None
    try:
        accepted = access.client().account_balance(
            initiator=access.initiator_name,
            security_credential=security_credential(access.initiator_password, access.environment),
            party_a=access.c2b_shortcode, result_url=access.callback_urls["balance_result"],
            timeout_url=access.callback_urls["balance_timeout"])
        return account_balance.PENDING, None, accepted
    except RequestRejected as exc:
        return account_balance.REFUSED, str(exc), None


def _record_verification(channel_id: int, *, ok: bool, details: dict[str, Any] | None = None,
                         error: str | None = None, code: str | None = None,
                         balance_asked: AsyncAccepted | None = None) -> None:
    # Locked: URL registration may finish at the same moment (channel_activation.py).
    channel = channel_activation.locked_channel(channel_id)
    if balance_asked is not None:
        async_requests.record(AsyncKind.BALANCE, channel.id, balance_asked)
    if ok:
        channel.verification_state = StepState.DONE
        channel.verified_at = utcnow()
        channel.verification_details = details
        channel.verification_error = channel.verification_error_code = None
        if channel.status == ChannelStatus.CONFIGURED:
            channel.status = ChannelStatus.VERIFIED
        channel_events.record(channel, channel_events.Kind.VERIFIED, Actor.SYSTEM,
                              account_balance=(details or {}).get("account_balance"))
        channel_activation.activate_if_ready(channel)
    else:
        channel.verification_state = StepState.FAILED
        channel.verification_error, channel.verification_error_code = error, code
        channel_events.record(channel, channel_events.Kind.VERIFICATION_FAILED, Actor.SYSTEM,
                              code=code)


# --- URL registration ----------------------------------------------------------------------


# A merchant's own confirmation URL is refused (code), and a webhook endpoint offered instead.
RELAY_INSTEAD = "relay_with_webhook"


def relay_instead(channel: MpesaChannel, url: str) -> str:
    """Why a merchant's own confirmation URL is not registered, and what to do instead."""
    return (f"Safaricom sends the payments of a shortcode to one confirmation URL only: "
            f"registering {url} would send them there instead of here, and no payment to "
            f"{channel.shortcode} would earn points any more. Leave confirmation_url out to "
            "register ours, and we relay each confirmation to your system, signed: POST "
            f'/api/v1/webhook-endpoints {{"url": "{url}", "events": ["payment.received"], '
            f'"channel_id": {channel.id}}} (in the web UI: Webhooks).')


@transactional
def request_url_registration(channel_id: int, *, validation_url: str | None = None,
                             confirmation_url: str | None = None,
                             response_type: str = "Completed") -> MpesaChannel:
    """Check the URLs against Safaricom's rules and queue their registration."""
    channel = get_channel(channel_id)
    _require_credentials(channel)
    _require_verified(channel, "registering its callback URLs")
    own = _own_urls(channel)
    urls = {"validation_url": validation_url or own["validation"],
            "confirmation_url": confirmation_url or own["confirmation"]}
    problems = {}
    for field, url in urls.items():
        try:
            daraja.check_callback_url(url, channel.environment.value)
        except UrlRuleViolation as exc:
            problems[field] = [str(exc)]
    if problems:
        raise ValidationFailed("Safaricom would refuse these callback URLs.", fields=problems)
    if urls["confirmation_url"] != own["confirmation"]:
        raise ValidationFailed(
            "Register our confirmation URL, and have us relay each payment to yours.",
            code=RELAY_INSTEAD, fields={"confirmation_url": [relay_instead(channel, confirmation_url)]})
    channel.validation_url, channel.confirmation_url = urls["validation_url"], urls["confirmation_url"]
    channel.response_type = response_type
    channel.urls_state = StepState.PENDING
    channel.urls_error = channel.urls_error_code = None
    background.enqueue(TaskName.REGISTER_URLS, channel.merchant_id, channel.id)
    return channel


def register_urls(channel_id: int, *, final_attempt: bool = True) -> None:
    """Worker: register the C2B URLs, falling back between v1 and v2."""
    outcome = _registration(channel_access(channel_id), final_attempt)
    with unit_of_work():
        _record_registration(channel_id, **outcome)


def _registration(access: ChannelAccess, final_attempt: bool) -> dict[str, Any]:
    """Ask Safaricom (no transaction open); the outcome to record."""
    try:
        result = access.client().register_c2b_urls(
            shortcode=access.c2b_shortcode, confirmation_url=access.confirmation_url,
            validation_url=access.validation_url, response_type=access.response_type or "Completed",
            version=access.c2b_version)
    except UrlsAlreadyRegistered as exc:
        return {"code": "urls_already_registered", "error": str(exc)}
    except BadCredentials:
        return {"code": "bad_credentials",
                "error": "Safaricom refused the consumer key and secret; verify the channel again."}
    except RequestRejected as exc:
        return {"code": "urls_refused", "error": f"Safaricom refused the URLs: {exc}"}
    except DarajaUnavailable as exc:
        if not final_attempt:
            raise
        return {"code": "safaricom_unreachable",
                "error": (f"Safaricom could not be reached ({exc}). "
                          "Try registering again in a few minutes.")}
    return {"version": result.version}


def _record_registration(channel_id: int, *, version: str | None = None,
                         error: str | None = None, code: str | None = None) -> None:
    channel = channel_activation.locked_channel(channel_id)  # see _record_verification
    if error is None:
        channel.urls_state = StepState.DONE
        channel.urls_registered_at = utcnow()
        channel.urls_error = channel.urls_error_code = None  # an earlier failure's, both
        channel.c2b_version = version or channel.c2b_version  # remember which one worked
        channel_events.record(channel, channel_events.Kind.URLS_REGISTERED, Actor.SYSTEM,
                              c2b_version=str(version or channel.c2b_version.value))
        channel_activation.activate_if_ready(channel)
    else:
        channel.urls_state = StepState.FAILED
        channel.urls_error, channel.urls_error_code = error, code
        channel_events.record(channel, channel_events.Kind.URLS_FAILED, Actor.SYSTEM, code=code)


def step_outcome(channel: MpesaChannel, step: str) -> dict[str, Any] | None:
    """The seed's answer for a finished step, or None while it is still pending. A failure
    is in the channel's step (`verification.error`, `urls.error`: {code, message}), never
    a bare string beside `verified`."""
    if step == "verification":
        if channel.verification_state in (StepState.PENDING, StepState.NONE):
            return None
        return {"verified": channel.verification_state == StepState.DONE,
                "status": channel.status.value,
                "verification_details": channel.verification_details, "channel": channel}
    if channel.urls_state in (StepState.PENDING, StepState.NONE):
        return None
    return {"registered": channel.urls_state == StepState.DONE, "status": channel.status.value,
            "urls": {"validation_url": channel.validation_url,
                     "confirmation_url": channel.confirmation_url,
                     "response_type": channel.response_type,
                     "c2b_version": channel.c2b_version.value},
            "channel": channel}


WAIT_POLL = 0.25  # seconds between two looks at a step's state while a caller waits
STEP_STATES = {"verification": "verification_state", "urls": "urls_state",
               "pull": "pull_state"}


def wait_for_step(channel_id: int, step: str, seconds: float) -> MpesaChannel:
    """Poll until the worker finished `step` (a key of STEP_STATES) or time runs out.

    Call it outside any unit of work. Each look is a short read of its own: the session is
    closed before sleeping, so a waiting web thread holds no transaction and no pooled
    connection (sixteen waiting callers must not take the pool from the callbacks)."""
    attribute = STEP_STATES[step]
    deadline = time.monotonic() + seconds
    while True:
        channel = get_channel(channel_id)
        if getattr(channel, attribute) != StepState.PENDING or time.monotonic() >= deadline:
            return channel
        db.session.close()  # ends the read transaction and returns the connection
        time.sleep(min(WAIT_POLL, max(0.0, deadline - time.monotonic())))


# --- health ------------------------------------------------------------------------------------


def check_channel_health(channel_id: int) -> None:
    """Worker: a token (from the cache when valid) and the URL registration state.
    A failing channel is reported, never silently deactivated."""
    access = channel_access(channel_id)
    error = code = None
    try:
        access.client().access_token()
    except DarajaError as exc:
        error, code = f"Safaricom token check failed: {exc}", "token_check_failed"
    with unit_of_work():
        channel_activation.record_health(channel_id, error, code)


HEALTH_BATCH = 50


def schedule_health_checks() -> int:
    """Beat (its task owns the transaction): queue health checks for every active channel,
    HEALTH_BATCH channels a task, so thousands of channels spread over the workers and no
    task makes every HTTP call."""
    with all_merchants():  # fan-out only lists ids; each check runs as its merchant
        rows = db.session.execute(sa.select(MpesaChannel.merchant_id, MpesaChannel.id).where(
            MpesaChannel.is_active.is_(True), MpesaChannel.archived_at.is_(None))
            .order_by(MpesaChannel.id)).all()
    pairs = [[merchant_id, channel_id] for merchant_id, channel_id in rows]
    for start in range(0, len(pairs), HEALTH_BATCH):
        background.enqueue(TaskName.CHECK_HEALTH_BATCH, pairs[start:start + HEALTH_BATCH])
    return len(pairs)


def check_health_batch(pairs: list[list[int]]) -> None:
    """Worker: check each (merchant_id, channel_id) as its merchant."""
    for merchant_id, channel_id in pairs:
        with tenant_context(merchant_id):
            check_channel_health(channel_id)
