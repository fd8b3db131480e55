"""The demo: a merchant wired to the local emulator, and a simulated payment (development only).

`seed()` goes through the same services a merchant's API calls use: register, branding
(demo/brand.py), programs, a sandbox PayBill with the emulator's demo credentials, then
verify, register URLs and activate. Those steps call Daraja, so the emulator must be answering: under `make run` it
is mounted in the running app, and the seed runs once that app is up. Without `REDIS_URL`
the verify and register tasks run in this process right after their commit; with a worker
the seed waits for it, as `?wait=` does on the API.

`pay()` asks the emulator to play a customer paying the PayBill through the platform's own
Daraja client (C2B simulate, exactly what the Safaricom sandbox offers), then reads the
emulator's SMS inbox over HTTP until the receipt text arrives. It runs in its own process,
so everything it learns about the payment comes back over HTTP from the running app.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import requests
import sqlalchemy as sa
from flask import current_app

from loyalty import daraja
from loyalty.config import AT_PRODUCTION, AT_SANDBOX, SAFARICOM_SANDBOX
from loyalty.daraja.errors import DarajaError
from loyalty.demo import brand
from loyalty.errors import DomainError
from loyalty.extensions import db
from loyalty.models import (
    BusinessType,
    ChannelType,
    Environment,
    LedgerEntry,
    Merchant,
    MpesaChannel,
    Payment,
    StepState,
)
from loyalty.phones import InvalidPhone, hash_msisdn, normalise_msisdn
from loyalty.services import (
    channel_activation,
    channel_setup,
    channels,
    customers,
    merchants,
    programs,
    setup_templates,
)
from loyalty.services.setup_templates import catalog
from loyalty.tenancy import tenant_context

MERCHANT = {
    "business_name": "Acme Electronics",
    "owner_name": "Amina Wanjiru",
    "email": "demo@acme-electronics.example",
    "phone": "254722000111",
    "business_type": BusinessType.RETAIL,
    "password": "acme demo password",
}
# The programs, account rules and texts come from a setup template (loyalty/setup_templates):
# `loyalty`, `vip` (double points), `delivery` (5 stamps), and default / VIP* / DELIVERY.
TEMPLATE = ("electronics-vip", 1)
SHORTCODE = "174379"
CHANNEL = {
    "name": "Demo PayBill",
    "shortcode": SHORTCODE,
    "channel_type": ChannelType.PAYBILL,
    "environment": Environment.SANDBOX,
    # The emulator's built-in sandbox app and the public sandbox passkey of 174379.
    "consumer_key": "demo-consumer-key",
    "consumer_secret": "demo-consumer-secret",
    "passkey": "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
    # The public sandbox's API operator (DARAJA.md 13): the demo can reverse payments.
    "initiator_name": "testapi",
    "initiator_password": "Safaricom999!*!",
}
STEP_WAIT = 30  # seconds a worker may take for verify / register-urls (the API clamps ?wait to 10)
SMS_WAIT = 10.0  # seconds `pay` waits for the receipt SMS


class DemoError(DomainError):
    status, code = 409, "demo_failed"


@dataclass(frozen=True)
class Seeded:
    merchant_id: int
    business_name: str
    email: str
    api_key: str
    created: bool
    channel_id: int
    shortcode: str
    channel_status: str
    account_mapping: dict[str, str]
    programs: list[str]
    confirmation_url: str | None
    branding: dict[str, Any]


@dataclass(frozen=True)
class Paid:
    phone: str
    amount: int
    account: str
    shortcode: str
    conversation_id: str | None
    sms: dict[str, Any] | None
    payment: dict[str, Any] | None


# --- where the emulator is -------------------------------------------------------------------


@dataclass(frozen=True)
class EmulatorUrls:
    daraja: str
    sms: str


def emulator_urls() -> EmulatorUrls:
    """The emulator the demo talks to: DARAJA_SANDBOX_URL / AT_BASE_URL when they were
    pointed somewhere local, else the running app's own emulator under PUBLIC_BASE_URL
    (so `flask demo pay` works from a second shell with nothing exported)."""
    config = current_app.config
    base = config["PUBLIC_BASE_URL"].rstrip("/")
    daraja_url = config["DARAJA_SANDBOX_URL"].rstrip("/")
    sms_url = config["AT_BASE_URL"].rstrip("/")
    if daraja_url == SAFARICOM_SANDBOX:
        daraja_url = f"{base}/_emulator/daraja"
    if sms_url in (AT_SANDBOX, AT_PRODUCTION):
        sms_url = f"{base}/_emulator/sms"
    return EmulatorUrls(daraja=daraja_url, sms=sms_url)


@contextmanager
def _daraja_at(url: str) -> Iterator[None]:
    """Have `daraja.client_for` (and the in-process tasks) use the emulator at `url`.

    Only this process's own app is touched, and only when its DARAJA_SANDBOX_URL still
    names Safaricom: the demo's credentials exist nowhere but in the emulator."""
    app = current_app._get_current_object()
    extension = app.extensions["daraja"]
    if extension.base_urls.get("sandbox") == url:
        yield
        return
    app.extensions["daraja"] = dataclasses.replace(
        extension, base_urls={**extension.base_urls, "sandbox": url})
    try:
        yield
    finally:
        app.extensions["daraja"] = extension


def _refuse_production() -> None:
    if current_app.config["APP_ENV"] == "production":
        raise DemoError("The demo is for development: it is refused when APP_ENV=production.")


def _check_reachable(urls: EmulatorUrls) -> None:
    """A clear message instead of three retried timeouts when the app is not running."""
    try:
        requests.get(f"{urls.daraja}/oauth/v1/generate", timeout=5).close()
    except requests.RequestException as exc:
        raise DemoError(
            f"The Daraja emulator at {urls.daraja} does not answer ({type(exc).__name__}). "
            "Start the app with `make run` (it mounts the emulator with DARAJA_EMULATOR=1) "
            "and run this again.") from None


# --- seed ----------------------------------------------------------------------------------


def find_demo_merchant() -> Merchant | None:
    return db.session.scalar(sa.select(Merchant).where(Merchant.email == MERCHANT["email"]))


def seed() -> Seeded:
    """Create (or bring back to shape) the demo merchant, programs and channel, and take the
    channel through verify, register-urls and activate. Safe to run any number of times;
    each run issues a fresh API key (keys are stored hashed, so an old one cannot be shown)."""
    _refuse_production()
    urls = emulator_urls()
    _check_reachable(urls)
    merchant = find_demo_merchant()
    created = merchant is None
    if created:
        registration = merchants.register_merchant(**MERCHANT)
        merchant_id, api_key = registration.merchant.id, registration.api_key
    else:
        merchant_id = merchant.id
        with tenant_context(merchant_id):
            api_key = merchants.create_api_key(f"Demo key {time.strftime('%Y-%m-%d %H:%M:%S')}").key
    with tenant_context(merchant_id), _daraja_at(urls.daraja):
        branded = brand.apply().branding
        channel_id = _ensure_channel()
        _apply_template(channel_id)
        _onboard(channel_id)
        channel = channels.get_channel(channel_id)
        return Seeded(
            merchant_id=merchant_id, business_name=MERCHANT["business_name"],
            email=MERCHANT["email"], api_key=api_key, created=created, channel_id=channel.id,
            shortcode=channel.shortcode, channel_status=channel.status.value,
            account_mapping=dict(channel.account_mapping or {}),
            programs=[p.code for p in programs.list_programs()],
            confirmation_url=channel.confirmation_url, branding=branded)


def _apply_template(channel_id: int) -> None:
    """The template's setup, put back as it was if it was edited since (`adopt`): no
    idempotency record, since each seed should restore the demo rather than replay."""
    key, version = TEMPLATE
    setup_templates.apply_manifest(catalog.manifest(key, version), {}, channel_id=channel_id,
                                   adopt=True)


def _ensure_channel() -> int:
    existing = next((c for c in channels.list_channels() if c.shortcode == SHORTCODE
                     and c.environment.value == "sandbox"), None)
    if existing is None:
        return channels.create_channel(dict(CHANNEL)).id
    # Unchanged values change nothing; edited ones are put back (and re-verified below).
    changes = {k: v for k, v in CHANNEL.items() if k not in ("shortcode", "channel_type",
                                                             "environment")}
    return channels.update_channel(existing.id, changes).id


def _onboard(channel_id: int) -> None:
    """Verify, register the platform's own callback URLs, activate: the merchant's steps.
    Registering again every run is deliberate: the emulator of `make run` keeps its
    registrations in memory, so a restarted app has forgotten them."""
    channel_setup.request_verification(channel_id)
    channel = channel_setup.wait_for_step(channel_id, "verification", STEP_WAIT)
    if channel.verification_state != StepState.DONE:
        raise DemoError("Verification did not succeed: "
                        f"{channel.verification_error or 'no answer from the worker in time'}")
    channel_setup.request_url_registration(channel_id)
    channel = channel_setup.wait_for_step(channel_id, "urls", STEP_WAIT)
    if channel.urls_state != StepState.DONE:
        raise DemoError("Registering the callback URLs did not succeed: "
                        f"{channel.urls_error or 'no answer from the worker in time'}")
    channel_activation.activate_channel(channel_id)


# --- pay -------------------------------------------------------------------------------------


def _demo_channel() -> MpesaChannel:
    channel = next((c for c in channels.list_channels() if c.shortcode == SHORTCODE
                    and c.environment.value == "sandbox"), None)
    if channel is None:
        raise DemoError("The demo merchant has no PayBill 174379: run `flask demo seed` first.")
    if not channel.is_active:
        raise DemoError("The demo channel is not active: run `flask demo seed` again.")
    return channel


def demo_payer(phone: str) -> tuple[str, Merchant, EmulatorUrls]:
    """What paying the demo merchant needs: the payer's number, the demo merchant and the
    emulator (reachable); a DemoError saying what to do otherwise."""
    _refuse_production()
    try:
        msisdn = normalise_msisdn(phone)
    except InvalidPhone as exc:
        raise DemoError(str(exc)) from None
    merchant = find_demo_merchant()
    if merchant is None:
        raise DemoError("There is no demo merchant yet: run `flask demo seed` first.")
    urls = emulator_urls()
    _check_reachable(urls)
    return msisdn, merchant, urls


def pay(*, amount: int, account: str, phone: str, name: str | None = None,
        wait: float = SMS_WAIT) -> Paid:
    """Simulate a C2B payment to the demo PayBill; return the receipt SMS once it arrives
    (None after `wait` seconds) and the payment as the platform recorded it."""
    msisdn, merchant, urls = demo_payer(phone)
    with tenant_context(merchant.id), _daraja_at(urls.daraja):
        channel = _demo_channel()
        if name:
            # Daraja's simulate carries no payer name (the emulator calls everyone John);
            # enrolling the phone, as a shop would at the till, is how a name gets in.
            customers.enrol_customer(phone=msisdn, first_name=name)
        client = daraja.client_for(environment=channel.environment.value,
                                   consumer_key=channel.consumer_key,
                                   consumer_secret=channel.consumer_secret)
        shortcode, channel_id = channel.shortcode, channel.id
        db.session.rollback()  # hold no database transaction while the app writes
        before = {m["message_id"] for m in _inbox(urls, msisdn)}
        started = time.time()
        try:
            answer = client.c2b_simulate(shortcode=shortcode, amount=amount, msisdn=msisdn,
                                         bill_ref=account)
        except DarajaError as exc:
            raise DemoError(f"The emulator refused the payment: {exc}") from None
        sms = _wait_for_sms(urls, msisdn, before, wait)
        payment = _latest_payment(channel_id, msisdn, started)
    return Paid(phone=msisdn, amount=amount, account=account, shortcode=shortcode,
                conversation_id=answer.get("OriginatorConversationID"), sms=sms,
                payment=payment)


def _inbox(urls: EmulatorUrls, msisdn: str) -> list[dict[str, Any]]:
    try:
        response = requests.get(f"{urls.sms}/inbox", params={"to": msisdn}, timeout=5)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as exc:
        raise DemoError(f"Could not read the emulator's SMS inbox at {urls.sms}/inbox "
                        f"({type(exc).__name__}).") from None


def _wait_for_sms(urls: EmulatorUrls, msisdn: str, before: set[str],
                  wait: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + wait
    while True:
        fresh = [m for m in _inbox(urls, msisdn) if m["message_id"] not in before]
        if fresh:
            return fresh[-1]  # newest first: the oldest new one is this payment's receipt
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.3)


def _latest_payment(channel_id: int, msisdn: str, since: float) -> dict[str, Any] | None:
    """The newest payment of this payer on the channel, as stored (any status)."""
    db.session.rollback()  # see what the app committed meanwhile
    payment = db.session.scalar(
        sa.select(Payment).where(Payment.channel_id == channel_id,
                                 Payment.msisdn.in_([msisdn, hash_msisdn(msisdn)]))
        .order_by(Payment.id.desc()).limit(1))
    if payment is None or payment.created_at.timestamp() < since - 5:
        return None
    stamps = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.stamps), 0))
                               .where(LedgerEntry.payment_id == payment.id))
    return {"trans_id": payment.trans_id, "status": payment.status.value,
            "source": payment.source.value, "points": payment.points, "stamps": int(stamps or 0),
            "matched_pattern": payment.matched_pattern, "error": payment.error}
