"""Flask commands for operators: `flask keys ...`, `flask channels ...`, `flask callbacks ...`,
`flask row-security ...`, `flask sms ...`, `flask webhooks ...` (and `flask demo ...`,
`flask emulator serve`)."""

from __future__ import annotations

import os
from collections import Counter

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from loyalty.crypto import generate_key
from loyalty.db import row_security
from loyalty.demo.cli import demo
from loyalty.emulator import standalone as emulator_server
from loyalty.errors import DomainError
from loyalty.extensions import db
from loyalty.services import sender_ids as sender_id_service
from loyalty.services import sms_pause
from loyalty.services.callback_log import replay, spooled
from loyalty.services.channel_transfer import import_env_credentials
from loyalty.services.secrets import rotate_secrets
from loyalty.services.webhooks.delivery import send_test_now

keys = AppGroup("keys", help="Encryption keys for stored secrets.")


@keys.command("generate")
def keys_generate() -> None:
    """Print a new Fernet key (put it first in ENCRYPTION_KEY to start using it)."""
    click.echo(generate_key())


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret with the first key of ENCRYPTION_KEY."""
    count = rotate_secrets()
    click.echo(f"Re-encrypted {count} secret(s) with the current key.")
    if count:
        click.echo("Once every process runs with the new ENCRYPTION_KEY, the old key can be removed.")


channels = AppGroup("channels", help="M-Pesa channels.")


@channels.command("import-env")
@click.option("--merchant", "merchant_id", type=int, required=True, help="merchant id")
def channels_import_env(merchant_id: int) -> None:
    """Move MPESA_CONSUMER_KEY/MPESA_CONSUMER_SECRET into the merchant's legacy channel."""
    key = os.environ.get("MPESA_CONSUMER_KEY", "").strip()
    secret = os.environ.get("MPESA_CONSUMER_SECRET", "").strip()
    if not key or not secret:
        raise click.ClickException("Set MPESA_CONSUMER_KEY and MPESA_CONSUMER_SECRET first.")
    try:
        channel = import_env_credentials(merchant_id, key, secret)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Stored the credentials encrypted in channel {channel.id} ('{channel.name}', "
               f"shortcode {channel.shortcode}), now {channel.status.value}.")
    click.echo("Delete MPESA_CONSUMER_KEY and MPESA_CONSUMER_SECRET from the environment and "
               "from any .env file: they are no longer read.")


callbacks = AppGroup("callbacks", help="Safaricom callbacks.")


@callbacks.command("replay-spool")
def callbacks_replay_spool() -> None:
    """Store the callbacks spooled while the database was failing (CALLBACK_SPOOL_DIR)."""
    for path, entries in spooled():
        outcomes = Counter(replay(entry) for entry in entries)
        # Replaying again is harmless (payments are idempotent), so the file is set aside
        # only once every entry in it went through.
        path.rename(path.with_suffix(".replayed"))
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
        click.echo(f"{path.name}: {summary or 'empty'}")


row_security_group = AppGroup(
    "row-security", help="PostgreSQL row-level security, the second line of tenancy (opt-in).")


@row_security_group.command("status")
def row_security_status() -> None:
    """Whether row security is on for each table with the tenant policy."""
    with db.engine.connect() as connection:
        found = row_security.tables(connection)
    for name, on in found.items():
        click.echo(f"{name}: {'on' if on else 'off'}")
    click.echo(f"DB_ROW_SECURITY here: {'on' if current_app.config['DB_ROW_SECURITY'] else 'off'}")


@row_security_group.command("on")
def row_security_on() -> None:
    """Enable (and force) row security on every tenant table. Run it once every process
    runs with DB_ROW_SECURITY=on, or they will see no rows."""
    if not current_app.config["DB_ROW_SECURITY"]:
        raise click.ClickException(
            "Set DB_ROW_SECURITY=on on every process (web, hooks, worker, beat) and restart "
            "them first: a process without it would see no merchant's rows once this runs.")
    with db.engine.begin() as connection:
        names = row_security.switch(connection, True)
    click.echo(f"Row security is on for {len(names)} tables.")


@row_security_group.command("off")
def row_security_off() -> None:
    """Disable row security on every tenant table (tenancy.py alone keeps merchants apart)."""
    with db.engine.begin() as connection:
        names = row_security.switch(connection, False)
    click.echo(f"Row security is off for {len(names)} tables.")


sms_group = AppGroup("sms", help="The SMS outbox: accounts paused for lack of credit.")


@sms_group.command("status")
def sms_status() -> None:
    """List the SMS accounts paused now, and since when."""
    pauses = sms_pause.paused_accounts()
    for pause in pauses:
        click.echo(f"{pause.account}: paused since {pause.since:%Y-%m-%d %H:%M} UTC until "
                   f"{pause.until:%H:%M} UTC ({pause.reason})")
    if not pauses:
        click.echo("No SMS account is paused.")


@sms_group.command("resume")
@click.option("--account", default="platform", show_default=True, help="the account to resume")
def sms_resume(account: str) -> None:
    """End a pause now (after topping the account up): queued texts go out with the next sweep."""
    click.echo(f"Resumed {account}." if sms_pause.resume(account) else f"{account} was not paused.")


webhooks = AppGroup("webhooks", help="Webhooks to merchants' own systems.")


@webhooks.command("test")
@click.argument("endpoint_id", type=int)
def webhooks_test(endpoint_id: int) -> None:
    """Send a signed webhook.test event to an endpoint now and print its answer."""
    try:
        delivery = send_test_now(endpoint_id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    answer = (f"HTTP {delivery.last_status_code}" if delivery.last_status_code
              else delivery.last_error or "no answer")
    click.echo(f"Sent {delivery.event_type} {delivery.event_id} to endpoint {endpoint_id}: "
               f"{delivery.status.value} ({answer}).")
    if delivery.status.value != "delivered":
        if delivery.last_error:
            click.echo(delivery.last_error)
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(keys)
    app.cli.add_command(channels)
    app.cli.add_command(callbacks)
    app.cli.add_command(row_security_group)
    app.cli.add_command(sms_group)
    app.cli.add_command(webhooks)
    app.cli.add_command(demo)
    app.cli.add_command(emulator_server.cli)
    app.cli.add_command(sender_ids)


# --- sender IDs (white-label, DESIGN.md 13): the operator registers them with AT ---------

sender_ids = AppGroup("sender-ids", help="Merchants' SMS sender IDs (white-label).")


@sender_ids.command("list")
@click.option("--state", type=click.Choice(["pending", "approved", "rejected"]),
              help="only requests in this state (default: all)")
def sender_ids_list(state: str | None) -> None:
    """Every merchant's sender ID requests, oldest first."""
    rows = sender_id_service.all_requests(state)
    for row in rows:
        click.echo(f"{row['merchant_id']}\t{row['email']}\t{row['sender_id']!r}\t"
                   f"{row['category']}\t{row['state']}\t{row['reason'] or ''}")
    if not rows:
        click.echo("No sender ID requests" + (f" {state}." if state else "."))


def _decide(merchant: str, approve: bool, category: str | None, reason: str | None) -> None:
    try:
        decided = sender_id_service.decide(merchant, approve=approve, category=category,
                                           reason=reason)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    for record in decided:
        click.echo(f"{record.sender_id!r} ({record.category.value}) of merchant "
                   f"{record.merchant_id}: {record.state.value}.")


_CATEGORY = click.option("--category", type=click.Choice(["transactional", "promotional"]),
                         help="decide only this category (default: every pending one)")


@sender_ids.command("approve")
@click.argument("merchant")
@_CATEGORY
@click.option("--reason", help="a note the merchant sees")
def sender_ids_approve(merchant: str, category: str | None, reason: str | None) -> None:
    """Approve MERCHANT's (id or email) pending sender ID once AT registered it: its texts
    of that category then go out from it."""
    _decide(merchant, True, category, reason)


@sender_ids.command("reject")
@click.argument("merchant")
@_CATEGORY
@click.option("--reason", help="why, shown to the merchant")
def sender_ids_reject(merchant: str, category: str | None, reason: str | None) -> None:
    """Reject MERCHANT's (id or email) pending sender ID; its texts keep the platform's."""
    _decide(merchant, False, category, reason)
