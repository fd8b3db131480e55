"""`flask demo …`: a demo merchant wired to the local emulator (development only)."""

from __future__ import annotations

from flask.cli import AppGroup

demo = AppGroup("demo", help="Demo data and simulated payments against the local emulator.")
