"""Every log line carries the merchant, request and task it belongs to."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, g, has_request_context, request

from loyalty.tenancy import get_current_merchant_id

FORMAT = "%(asctime)s %(levelname)s %(name)s [merchant=%(merchant_id)s request=%(request_id)s] %(message)s"


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.merchant_id = get_current_merchant_id() or "-"
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def init_app(app: Flask) -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_loyalty", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(ContextFilter())
        handler._loyalty = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        if root.level == logging.WARNING:
            root.setLevel(logging.INFO)

    @app.before_request
    def _request_id():
        g.request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex[:12]

    @app.after_request
    def _echo_request_id(response):
        response.headers.setdefault("X-Request-ID", g.get("request_id", ""))
        return response
