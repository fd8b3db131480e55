"""`flask demo …`: a demo merchant wired to the local emulator (development only).

    flask demo seed      the "Acme Electronics" merchant, its programs, its branding (name,
                         colours, logo) and an active sandbox PayBill 174379 (needs the app
                         running with DARAJA_EMULATOR=1)
    flask demo pay       a customer pays that PayBill; prints the SMS they receive
    flask demo reconcile the same payment with its confirmation lost on the way, then a
                         Pull Transactions reconciliation recovers it; prints the SMS
"""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import AppGroup

from loyalty.demo import recovery, scenario
from loyalty.errors import DomainError

demo = AppGroup("demo", help="Demo data and simulated payments against the local emulator.")


def _quiet() -> None:
    """The commands print what matters; the app's INFO lines (tasks run in this process
    when REDIS_URL is unset) would bury it. Warnings and errors still show."""
    logging.getLogger().setLevel(logging.WARNING)


@demo.command("seed")
def seed_command() -> None:
    """Create the demo merchant (or issue it a new API key) and activate its PayBill."""
    _quiet()
    try:
        seeded = scenario.seed()
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    base = current_app.config["PUBLIC_BASE_URL"]
    mapping = ", ".join(f"{k} -> {v}" for k, v in seeded.account_mapping.items())
    click.echo(f"Demo merchant {'created' if seeded.created else 'ready'}: "
               f"{seeded.business_name} (id {seeded.merchant_id}, {seeded.email})")
    click.echo(f"  programs: {', '.join(seeded.programs)}")
    click.echo(f"  channel {seeded.channel_id}: sandbox PayBill {seeded.shortcode}, "
               f"{seeded.channel_status}; accounts {mapping}")
    look = seeded.branding
    click.echo(f"  branding: {look['display_name']}, colours {look['primary_color']} / "
               f"{look['accent_color']}, logo {base.rstrip('/')}{look['logo_url']}")
    click.echo(f"  API key (new on every seed, shown once): {seeded.api_key}")
    click.echo("")
    click.echo(f"export API_KEY={seeded.api_key} BASE={base}")


@demo.command("pay")
@click.option("--amount", type=click.IntRange(1, 250_000), default=5000, show_default=True,
              help="whole shillings")
@click.option("--account", default="VIP001", show_default=True,
              help="the PayBill account number the customer types")
@click.option("--phone", default="0712345678", show_default=True, help="the payer's phone")
@click.option("--name", default=None,
              help="enrol the phone under this first name before paying (Daraja's simulate "
                   "carries no name; the emulator calls every payer John)")
@click.option("--wait", type=click.FloatRange(0, 60), default=10.0, show_default=True,
              help="seconds to wait for the SMS")
def pay_command(amount: int, account: str, phone: str, name: str | None, wait: float) -> None:
    """Pay the demo PayBill through the emulator's C2B simulate; print the SMS that follows."""
    _quiet()
    try:
        paid = scenario.pay(amount=amount, account=account, phone=phone, name=name, wait=wait)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Paid KES {paid.amount:,} from {paid.phone} to PayBill {paid.shortcode}, "
               f"account {paid.account!r} (Daraja accepted: {paid.conversation_id}).")
    _echo_outcome(paid.payment, paid.sms, wait)


def _echo_outcome(payment: dict | None, sms: dict | None, wait: float) -> None:
    """The payment as the platform stored it, then the SMS the customer got."""
    if payment:
        via = f" via {payment['matched_pattern']}" if payment["matched_pattern"] else ""
        earned = (f"{payment['stamps']} stamp{'s' if payment['stamps'] != 1 else ''}"
                  if payment["stamps"] else f"{payment['points']:,} points")
        pulled = " (source pull: recovered by reconciliation)" if payment["source"] == "pull" \
            else ""
        click.echo(f"Payment {payment['trans_id']}{pulled}: {payment['status']}, {earned}{via}.")
    if sms is None:
        detail = f" ({payment['error']})" if payment and payment["error"] else ""
        raise click.ClickException(
            f"No SMS reached the emulator's inbox within {wait:g} s{detail}. "
            "Look at the app's log, or at /_emulator/ in a browser.")
    to = sms["to"] or f"the payer's hashed number ({sms['hash'][:12]}…)"
    click.echo(f"SMS to {to}: {sms['message']}")


@demo.command("reconcile")
@click.option("--amount", type=click.IntRange(1, 250_000), default=5000, show_default=True,
              help="whole shillings")
@click.option("--account", default="VIP001", show_default=True,
              help="the PayBill account number the customer types")
@click.option("--phone", default="0712345678", show_default=True, help="the payer's phone")
@click.option("--name", default=None, help="enrol the phone under this first name first")
@click.option("--wait", type=click.FloatRange(0, 60), default=10.0, show_default=True,
              help="seconds to wait for the SMS")
def reconcile_command(amount: int, account: str, phone: str, name: str | None,
                      wait: float) -> None:
    """A payment whose confirmation is lost on the way, recovered by reconciliation."""
    _quiet()
    try:
        found = recovery.recover(amount=amount, account=account, phone=phone, name=name,
                                 wait=wait)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Paid KES {found.amount:,} from {found.phone} to PayBill {found.shortcode}, "
               f"account {found.account!r}: receipt {found.trans_id}. Its confirmation was "
               f"lost on the way; the platform {'did' if found.held_before else 'did not'} "
               "hold the payment.")
    run = found.run
    click.echo(f"Reconciliation run {run['id']} over the last hour: {run['state']}; "
               f"{run['rows_seen']} rows seen, {run['already_known']} already known, "
               f"{run['recovered']} recovered, {run['ignored']} ignored, "
               f"{run['skipped']} skipped.{' ' + run['error'] if run['error'] else ''}")
    _echo_outcome(found.payment, found.sms, wait)
