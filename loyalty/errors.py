"""Domain errors, each with an HTTP status and a stable code, and the one error body.

Every error response of the app has the shape
`{"error": {"code": "snake_case", "message": "human sentence", "fields": {...}}}`
(`fields` only on 422). Internals never reach the body of a 500.

Plain Python on purpose: services raise these without knowing who asked. The handlers that
turn them into responses belong to the edges: `api/errors.py` (JSON, the app's default) and
`web/errors.py` (HTML pages for the `web` blueprint).
"""

from __future__ import annotations

from typing import Any

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
    extra: dict[str, Any] | None = None  # more of the answer, beside code and message

    def __init__(self, message: str | None = None, *, fields: dict[str, list[str]] | None = None,
                 code: str | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.fields = fields
        if code:
            self.code = code


class Unauthorized(DomainError):
    status, code, message = 401, "unauthorized", "A valid API key is required."


class Forbidden(DomainError):
    status, code, message = 403, "forbidden", "This is not allowed."


class NotFound(DomainError):
    status, code, message = 404, "not_found", "Not found."


class Conflict(DomainError):
    status, code, message = 409, "conflict", "The request conflicts with the current state."


class UnsupportedMediaType(DomainError):
    status, code, message = 415, "unsupported_media_type", "Send the body as application/json."


class ValidationFailed(DomainError):
    status, code, message = 422, "validation_error", "Some fields are invalid."


class ServiceUnavailable(DomainError):
    status, code, message = 503, "service_unavailable", "A dependency is unavailable."


def error_body(status: int, message: str, *, code: str | None = None,
               fields: dict[str, Any] | None = None,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code or HTTP_CODES.get(status, "error"), "message": message,
                            **(extra or {})}
    if fields is not None and status == 422:
        body["fields"] = fields
    return {"error": body}
