"""Every log line carries the merchant, request and task it belongs to, and no callback
token: `/hooks/<token>/…` is written `/hooks/…<last 4>/…` in the app's own lines and in
gunicorn's access and error logs."""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, g, has_request_context, request

from loyalty.tenancy import get_current_merchant_id

FORMAT = "%(asctime)s %(levelname)s %(name)s [merchant=%(merchant_id)s request=%(request_id)s] %(message)s"


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.merchant_id = get_current_merchant_id() or "-"
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


_HOOK_TOKEN = re.compile(r"/hooks/(?!…)([^/\s?#\"']+)")
_TRACEBACKS = logging.Formatter()
# Loggers gunicorn writes to itself (access lines, "Error handling request /hooks/…").
GUNICORN_LOGGERS = ("gunicorn.access", "gunicorn.error")


def mask_callback_tokens(text: str) -> str:
    """`/hooks/<token>/…` as `/hooks/…<last 4>/…`: enough to tell channels apart, not
    enough to post a callback (the token is the only credential a callback carries)."""
    return _HOOK_TOKEN.sub(lambda match: "/hooks/…" + match.group(1)[-4:], text)


class CallbackTokenMask(logging.Filter):
    """Masks callback tokens in a record's message and traceback before any handler
    formats it. The message is rendered here (args merged in) so that a token inside an
    argument — a URL, a request line, an exception's text — is caught too."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/hooks/" in message:
            record.msg, record.args = mask_callback_tokens(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text and "/hooks/" in record.exc_text:
            record.exc_text = mask_callback_tokens(record.exc_text)
        return True


def _mask_gunicorn_logs() -> None:
    # Logger filters: gunicorn logs straight to these (they do not propagate), and keeps
    # the loggers, with their filters, across its own logging setup and reloads.
    for name in GUNICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, CallbackTokenMask) for f in logger.filters):
            logger.addFilter(CallbackTokenMask())


def init_app(app: Flask) -> None:
    _mask_gunicorn_logs()
    root = logging.getLogger()
    if not any(getattr(h, "_loyalty", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(CallbackTokenMask())
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
