"""Domain errors, each with an HTTP status and a stable code, mapped to one body.

Every error response of the app has the shape
`{"error": {"code": "snake_case", "message": "human sentence", "fields": {...}}}`
(`fields` only on 422). Internals never reach the body of a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


class DomainError(Exception):
    """Base of every error a service may raise on purpose."""

    status = 400
    code = "bad_request"
    message = "The request could not be processed."

    def __init__(self, message: str | None = None, *, fields: dict[str, list[str]] | None = None,
                 code: str | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.fields = fields
        if code:
            self.code = code


class Unauthorized(DomainError):
    status, code, message = 401, "unauthorized", "A valid API key is required."


class NotFound(DomainError):
    status, code, message = 404, "not_found", "Not found."


class Conflict(DomainError):
    status, code, message = 409, "conflict", "The request conflicts with the current state."


class ValidationFailed(DomainError):
    status, code, message = 422, "validation_error", "Some fields are invalid."


class TooManyRequests(DomainError):
    status, code, message = 429, "too_many_requests", "Too many attempts; try again later."


class ServiceUnavailable(DomainError):
    status, code, message = 503, "service_unavailable", "A dependency is unavailable."


def error_body(status: int, message: str, *, code: str | None = None,
               fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code or HTTP_CODES.get(status, "error"), "message": message}
    if fields is not None and status == 422:
        body["fields"] = fields
    return {"error": body}


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


_SERVER_FAULT = "Something went wrong on our side; it has been logged."


def _for_web_ui() -> bool:
    """Pages of the merchant web UI (the `web` blueprint) get an HTML error page; every
    other path keeps the JSON body."""
    return request.blueprint == "web"


def _web_page(status: int, message: str, error: Exception):
    from loyalty.web.errors import error_page

    return error_page(status, message, error)


def http_error_response(error: HTTPException):
    """One body for every HTTPException, flask-smorest's validation errors included."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    if _for_web_ui():
        message = _SERVER_FAULT if status >= 500 else data.get("message") or _description(error)
        return _web_page(status, message, error)
    messages = data.get("messages")
    if status == 422:
        fields = _fields_from_webargs(messages)
        message = "Some fields are invalid: " + ", ".join(sorted(fields)) + "."
        body = error_body(422, message, fields=fields)
    elif status == 400 and messages:
        detail = _fields_from_webargs(messages)
        flat = "; ".join(str(v[0] if isinstance(v, list) and v else v) for v in detail.values())
        body = error_body(400, flat or "Malformed request.", code="malformed_request")
    elif status >= 500:
        body = error_body(status, "Something went wrong on our side; it has been logged.")
    else:
        body = error_body(status, data.get("message") or _description(error))
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


def _description(error: HTTPException) -> str:
    # Werkzeug's descriptions are long paragraphs; keep the first sentence.
    text = (error.description or error.name or "").strip()
    return text.split(". ")[0].rstrip(".") + "." if text else error.name


def domain_error_response(error: DomainError):
    if _for_web_ui():
        return _web_page(error.status, error.message, error)
    response = jsonify(error_body(error.status, error.message, code=error.code, fields=error.fields))
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def unexpected_error_response(error: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    if _for_web_ui():
        return _web_page(500, _SERVER_FAULT, error)
    response = jsonify(error_body(500, "Something went wrong on our side; it has been logged."))
    response.status_code = 500
    return response


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, domain_error_response)
    app.register_error_handler(HTTPException, http_error_response)
    app.register_error_handler(Exception, unexpected_error_response)
