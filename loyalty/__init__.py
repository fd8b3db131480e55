"""M-Pesa Loyalty. The application factory is in loyalty/app.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from flask import Flask


def create_app(overrides: Mapping[str, Any] | None = None, *, hooks_only: bool = False) -> Flask:
    """Build the app (loyalty.app.create_app); `hooks_only` for the Procfile's `hooks`."""
    # Imported on call, so that importing one module of the package (the models, phones,
    # the emulator) does not load the whole app with it.
    from loyalty.app import create_app as build

    return build(overrides, hooks_only=hooks_only)
