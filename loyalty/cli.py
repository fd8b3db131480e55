"""Flask commands for operators: `flask keys ...`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

keys = AppGroup("keys", help="Encryption keys for stored secrets.")


@keys.command("generate")
def keys_generate() -> None:
    """Print a new Fernet key (put it first in ENCRYPTION_KEY to start using it)."""
    from loyalty.crypto import generate_key

    click.echo(generate_key())


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret with the first key of ENCRYPTION_KEY."""
    from loyalty.services.secrets import rotate_secrets

    count = rotate_secrets()
    click.echo(f"Re-encrypted {count} secret(s) with the current key.")
    if count:
        click.echo("Once every process runs with the new ENCRYPTION_KEY, the old key can be removed.")


def init_app(app: Flask) -> None:
    app.cli.add_command(keys)
