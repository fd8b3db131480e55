"""Safaricom callback blueprint under /hooks."""

from loyalty.hooks.views import bp

__all__ = ["bp"]
