"""Flask commands for operators: `flask keys ...`, `flask channels ...`, `flask callbacks ...`
(and `flask demo ...`)."""

from __future__ import annotations

import os
from collections import Counter

import click
from flask import Flask
from flask.cli import AppGroup

from loyalty.crypto import generate_key
from loyalty.demo.cli import demo
from loyalty.errors import DomainError
from loyalty.services.callback_log import replay, spooled
from loyalty.services.channel_transfer import import_env_credentials
from loyalty.services.secrets import rotate_secrets

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


def init_app(app: Flask) -> None:
    app.cli.add_command(keys)
    app.cli.add_command(channels)
    app.cli.add_command(callbacks)
    app.cli.add_command(demo)
