"""Errors as JSON: the API's handlers, and the app's default for every path that is not a
page of the web UI (the hooks, the probes, the emulator, unknown URLs).

One body everywhere: `{"error": {"code", "message", "fields"}}` (loyalty.errors.error_body).
The web UI's blueprint registers its own handlers (web/errors.py), which Flask prefers for
its pages.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from loyalty.errors import DomainError, error_body

log = logging.getLogger(__name__)

SERVER_FAULT = "Something went wrong on our side; it has been logged."


def http_message(error: HTTPException) -> str:
    """The sentence an HTTP error is explained with (the web UI's pages show the same)."""
    if (error.code or 500) >= 500:
        return SERVER_FAULT
    data = getattr(error, "data", None) or {}
    return data.get("message") or _description(error)


def _description(error: HTTPException) -> str:
    # Werkzeug's descriptions are long paragraphs; keep the first sentence.
    text = (error.description or error.name or "").strip()
    return text.split(". ")[0].rstrip(".") + "." if text else error.name


def _fields_from_webargs(messages: Any) -> dict[str, Any]:
    """webargs nests errors by location ({"json": {...}}); the API shows just fields."""
    if not isinstance(messages, dict):
        return {"_schema": messages if isinstance(messages, list) else [str(messages)]}
    fields: dict[str, Any] = {}
    for location, errors in messages.items():
        if isinstance(errors, dict):
            fields.update(errors)
        else:
            fields[location] = errors
    return fields


def sentence(errors: Any) -> str:
    """A field's errors as readable text: several join into one sentence, nested ones
    (a mapping's key, a list's item) are named; never a Python list or tuple."""
    if isinstance(errors, dict):
        return "; ".join(f"{name}: {sentence(inner)}" for name, inner in errors.items())
    if isinstance(errors, (list, tuple)):
        return " ".join(sentence(inner) for inner in errors)
    text = str(errors).strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def invalid_fields_message(fields: dict[str, Any]) -> str:
    """The 422's message: each invalid field with why, the first few in full."""
    shown = [f"{name} ({sentence(fields[name]).rstrip('.')})" for name in sorted(fields)[:4]]
    more = len(fields) - len(shown)
    return ("Some fields are invalid: " + "; ".join(shown)
            + (f"; and {more} more" if more > 0 else "") + ".")


def http_error_response(error: HTTPException):
    """One body for every HTTPException, flask-smorest's validation errors included."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if status == 422:
        fields = _fields_from_webargs(messages)
        body = error_body(422, invalid_fields_message(fields), fields=fields)
    elif status == 400 and messages:
        detail = _fields_from_webargs(messages)
        flat = "; ".join(str(v[0] if isinstance(v, list) and v else v) for v in detail.values())
        body = error_body(400, flat or "Malformed request.", code="malformed_request")
    else:
        body = error_body(status, http_message(error))
    response = jsonify(body)
    response.status_code = status
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    valid_methods = getattr(error, "valid_methods", None)
    if status == 405 and valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", "Bearer")
    return response


def domain_error_response(error: DomainError):
    response = jsonify(error_body(error.status, error.message, code=error.code, fields=error.fields,
                                  extra=error.extra))
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def log_unexpected(error: Exception) -> None:
    log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)


def unexpected_error_response(error: Exception):
    log_unexpected(error)
    response = jsonify(error_body(500, SERVER_FAULT))
    response.status_code = 500
    return response


def init_app(app: Flask) -> None:
    """The app-wide handlers: JSON for everything the web UI's blueprint does not claim."""
    app.register_error_handler(DomainError, domain_error_response)
    app.register_error_handler(HTTPException, http_error_response)
    app.register_error_handler(Exception, unexpected_error_response)
