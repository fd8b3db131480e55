"""The emulator on its own port, Safaricom's and Africa's Talking's paths at the root.

Daraja SDKs that build request URLs with `urljoin(base, "/oauth/v1/generate")` throw away
the path of their base URL, so `DARAJA_SANDBOX_URL=http://host/_emulator/daraja` reaches
`http://host/oauth/v1/generate` instead. Served from the root of its own port, the
emulator answers such clients exactly as Safaricom's host would:

    POST /oauth/v1/generate, /mpesa/c2b/v1/registerurl, /mpesa/stkpush/v1/processrequest, ...
    POST /version1/messaging, /version1/messaging/bulk; GET /inbox   (Africa's Talking)
    /_emulator/control/..., /_emulator/state, /_emulator/   (as when mounted)

The views, rules and state are the mounted emulator's (`mount`): nothing is copied, so
both are exactly as strict. `flask emulator serve` runs it; any WSGI server can too
(`gunicorn 'loyalty.emulator.standalone:create_app()'`), with `REDIS_URL` so that its
workers share one state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import click
from flask import Flask, current_app, jsonify, redirect
from flask.cli import AppGroup

from loyalty.emulator import mount

# What the emulator reads from its host's configuration (the rest is the host's business);
# the environment supplies the first three when there is no host.
SETTINGS = ("APP_ENV", "REDIS_URL", "REDIS_KEY_PREFIX", "EMULATOR_SYNC_CALLBACKS")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """A WSGI app serving only the emulator; `config` defaults to the environment."""
    if config is None:
        config = {name: os.environ[name] for name in SETTINGS[:3] if os.environ.get(name)}
    app = Flask(__name__)
    app.config.update({name: config[name] for name in SETTINGS if name in config})
    mount(app, daraja_prefix="", sms_prefix="")

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "emulator": True})

    @app.get("/")
    def home():
        return redirect("/_emulator/", code=302)

    return app


cli = AppGroup("emulator", help="The local Daraja and SMS emulator.")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=5001, show_default=True, type=click.IntRange(1, 65535),
              help="port to listen on")
def serve(host: str, port: int) -> None:
    """Serve the emulator alone, Daraja's and Africa's Talking's paths at the root."""
    from werkzeug.serving import run_simple  # Flask ignores app.run() under `flask`

    app = create_app(current_app.config)
    base = f"http://{host}:{port}"
    click.echo(f"Daraja emulator on {base}: set DARAJA_SANDBOX_URL={base} "
               f"(and AT_BASE_URL={base} for SMS); the page is {base}/_emulator/")
    if app.extensions["emulator"].public_urls_only:
        click.echo("APP_ENV=production: callback URLs must be https:// and public, as at "
                   "Safaricom's production host.")
    # Threaded: callbacks go out from background threads while requests are answered.
    run_simple(host, port, app, threaded=True, use_reloader=False)


@cli.command("sms-gateway")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=5002, show_default=True, type=click.IntRange(1, 65535),
              help="port to listen on")
def sms_gateway(host: str, port: int) -> None:
    """Serve Africa's Talking's send paths alone, at gateway speed (one asyncio loop), on
    the emulator's state: for load tests (bench/), where the Flask views would cost more
    CPU than the sender they measure."""
    import asyncio

    from loyalty.emulator import build
    from loyalty.emulator.sms_gateway import serve

    click.echo(f"Africa's Talking's send paths on http://{host}:{port}: set "
               f"AT_BASE_URL=http://{host}:{port}; /_emulator/control/settings of the "
               f"emulator with the same REDIS_URL and REDIS_KEY_PREFIX steers it")
    try:
        asyncio.run(serve(build(current_app.config), host, port))
    except KeyboardInterrupt:
        pass
