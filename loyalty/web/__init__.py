"""Merchant web UI blueprint (server-rendered pages over the same services as the API)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the web UI: login sessions now; the pages' blueprint when present."""
    from loyalty.web.auth import init_login

    init_login(app)
