"""The reconciliation demo: a confirmation lost on the way, recovered and texted.

Safaricom does not retry a C2B confirmation, so a payment made while the platform's URL was
down is never heard of (DARAJA.md 4.6). The demo plays exactly that against the local
emulator: the demo PayBill is registered for Pull Transactions, a customer pays with the
emulator told to lose that payment's confirmation, and the platform holds nothing. Then a
reconciliation run over the last hour (what beat does every RECONCILE_INTERVAL) pulls the
shortcode's transactions, finds the receipt it does not hold and stores it with source
`pull`; crediting and the receipt SMS follow as for any payment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
import sqlalchemy as sa

from loyalty.demo.scenario import (
    MERCHANT,
    STEP_WAIT,
    DemoError,
    EmulatorUrls,
    _daraja_at,
    _demo_channel,
    _inbox,
    _latest_payment,
    _wait_for_sms,
    demo_payer,
)
from loyalty.extensions import db
from loyalty.models import Payment, StepState
from loyalty.models.base import utcnow
from loyalty.services import channel_setup, customers, reconciliation
from loyalty.tenancy import tenant_context

RUN_WAIT = 30.0  # seconds a worker may take for the run (in-process without Redis: none)
LOSS_WAIT = 10.0  # seconds for the emulator to complete the payment and lose its callback


@dataclass(frozen=True)
class Recovered:
    phone: str
    amount: int
    account: str
    shortcode: str
    trans_id: str
    held_before: bool  # the platform had the payment before the run (it must not)
    run: dict[str, Any]
    payment: dict[str, Any] | None
    sms: dict[str, Any] | None


def recover(*, amount: int, account: str, phone: str, name: str | None = None,
            wait: float = 10.0) -> Recovered:
    """Pay the demo PayBill with the confirmation lost, reconcile, and return what the run
    found, the payment as the platform stored it, and the receipt SMS (None after `wait`)."""
    msisdn, merchant, urls = demo_payer(phone)
    with tenant_context(merchant.id), _daraja_at(urls.daraja):
        channel = _demo_channel()
        channel_id, shortcode = channel.id, channel.shortcode
        if name:
            customers.enrol_customer(phone=msisdn, first_name=name)
        _register_pull(channel_id)
        db.session.rollback()  # hold no database transaction while the app writes
        before = {m["message_id"] for m in _inbox(urls, msisdn)}
        started = time.time()
        trans_id = _pay_and_lose(urls, shortcode, amount, account, msisdn)
        held = _held(trans_id)
        run = reconciliation.start_reconciliation(channel_id,
                                                  since=utcnow() - timedelta(hours=1))
        run = reconciliation.wait_for_run(run.id, RUN_WAIT)
        found = {name: getattr(run, name) for name in (
            "id", "rows_seen", "already_known", "recovered", "ignored", "skipped", "error")}
        found["state"] = run.state.value
        sms = _wait_for_sms(urls, msisdn, before, wait)
        payment = _latest_payment(channel_id, msisdn, started)
    return Recovered(phone=msisdn, amount=amount, account=account, shortcode=shortcode,
                     trans_id=trans_id, held_before=held, run=found, payment=payment, sms=sms)


def _register_pull(channel_id: int) -> None:
    """Register (again) for Pull: the emulator of `make run` forgets on restart, and a
    shortcode registered before is answered 1001, which counts as registered."""
    reconciliation.request_pull_registration(channel_id, MERCHANT["phone"])
    channel = channel_setup.wait_for_step(channel_id, "pull", STEP_WAIT)
    if channel.pull_state != StepState.DONE:
        raise DemoError("Registering for Pull Transactions did not succeed: "
                        f"{channel.pull_error or 'no answer from the worker in time'}")


def _control(urls: EmulatorUrls) -> str:
    return urls.daraja.removesuffix("/daraja") + "/control"


def _pay_and_lose(urls: EmulatorUrls, shortcode: str, amount: int, account: str,
                  msisdn: str) -> str:
    """The customer pays; the emulator loses the confirmation. Returns the receipt once the
    emulator has completed the payment (and not told the platform)."""
    try:
        answer = requests.post(f"{_control(urls)}/c2b-payment", timeout=5, json={
            "ShortCode": shortcode, "Amount": amount, "Msisdn": msisdn,
            "BillRefNumber": account, "DropConfirmation": True})
        answer.raise_for_status()
        trans_id = answer.json()["TransID"]
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise DemoError(f"The emulator refused the payment ({type(exc).__name__}).") from None
    deadline = time.monotonic() + LOSS_WAIT
    while time.monotonic() < deadline:
        try:
            state = requests.get(f"{urls.daraja.removesuffix('/daraja')}/state",
                                 params={"limit": 50}, timeout=5).json()
        except (requests.RequestException, ValueError):
            state = {"callback_deliveries": []}
        if any(d["ref"] == trans_id and d["kind"] == "c2b_confirmation"
               for d in state["callback_deliveries"]):
            return trans_id
        time.sleep(0.2)
    raise DemoError(f"The emulator did not complete payment {trans_id} in {LOSS_WAIT:g} s.")


def _held(trans_id: str) -> bool:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(Payment)
                             .where(Payment.trans_id == trans_id)) > 0
