"""Gunicorn entry point: `gunicorn wsgi:app` (shim; not covered)."""

from loyalty import create_app

app = create_app()
