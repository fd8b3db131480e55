"""Odd input is a 4xx everywhere, never a 500: one guard for the whole app but /hooks.

A property fuzzer run against the OpenAPI document found five kinds of 500, each the same
mistake in many places, so each is closed where all requests pass rather than endpoint by
endpoint:

- integer URL parts: `<int:…>` matches 1 to 2**31 - 1 only (PostgreSQL INTEGER), so
  `/customers/759121185484426` is a 404 like any other unknown id;
- query strings, form fields and the path: a NUL character (which PostgreSQL text cannot
  hold) is a 422 naming the field (a 404 in the path);
- API bodies are JSON: a body sent with any other Content-Type (or none: curl's `-d`
  says form-urlencoded) is a 415 naming the header, rather than being read as an empty
  form and answered "Missing data for required field" for fields that were sent;
- JSON bodies: parsed strictly (loyalty/strict_json.py) before any view: a NUL or a lone
  surrogate in any string, a non-finite or huge number is a 422 naming the field; JSON
  that is not JSON (NaN, too deeply nested) is a 400;
- numbers in every schema are bounded by what the database holds (schemas/base.py).

/hooks keeps its own rules (the body is kept before an error is answered); the emulator is
a development tool that stands in for Safaricom.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Flask, Request, current_app, request
from werkzeug.routing import IntegerConverter, ValidationError

from loyalty.api.base import API_PREFIX, api
from loyalty.errors import DomainError, NotFound, UnsupportedMediaType, ValidationFailed
from loyalty.schemas.base import INT32_MAX
from loyalty.strict_json import StrictJsonError, text_problem
from loyalty.strict_json import loads as strict_loads

_UNGUARDED = ("/hooks/", "/_emulator/")


class Int32Converter(IntegerConverter):
    """`<int:…>` for PostgreSQL INTEGER ids: 1 to 2**31 - 1; anything else matches no
    route (404). The digits are counted before int() reads them, so a path of 5,000
    digits costs nothing."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 1,  # noqa: A002
                 max: int | None = INT32_MAX, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    def to_python(self, value: str) -> Any:
        if len(value.lstrip("-0")) > len(str(INT32_MAX)):
            raise ValidationError()
        return super().to_python(value)


class MalformedJson(DomainError):
    status, code, message = 400, "malformed_request", "The body is not valid JSON."


def upload(max_bytes: int):
    """Mark a view that takes a file as its body (not JSON), up to `max_bytes`: its
    requests may be that large (the app's MAX_CONTENT_LENGTH stays the rule everywhere
    else), and werkzeug answers 413 for more without reading past the limit. Put it
    nearest the function, so the decorators above it carry the mark."""
    def mark(view):
        view._upload_limit = max_bytes
        return view

    return mark


def _upload_limit() -> int | None:
    rule = request.url_rule
    view = current_app.view_functions.get(rule.endpoint) if rule is not None else None
    return getattr(view, "_upload_limit", None)


class UploadAwareRequest(Request):
    """A request whose size limit is its view's `upload` limit when it has one: known from
    the URL rule before anything (CSRF's form check included) reads the body."""

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is None and self.url_rule is not None and current_app:
            view = current_app.view_functions.get(self.url_rule.endpoint)
            limit = getattr(view, "_upload_limit", None)
            if limit:
                return limit
        return Request.max_content_length.fget(self)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def _fields_with_nul(pairs) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for name, value in pairs:
        if not isinstance(name, str):  # a multipart part whose header werkzeug could not read
            problems["form"] = ["A part of the form has no readable name."]
            continue
        reason = text_problem(name) or text_problem(value if isinstance(value, str) else "")
        if reason:
            problems[_printable(name)] = [f"Must be text without control characters ({reason})."]
    return problems


def _printable(name: str) -> str:
    return name.encode("unicode_escape").decode("ascii")[:60]


def check_request() -> None:
    """before_request: refuse input the database or the schemas cannot take (see above)."""
    if request.path.startswith(_UNGUARDED):
        return
    if text_problem(request.path):
        raise NotFound()
    problems = _fields_with_nul(request.args.items(multi=True))
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        problems.update(_fields_with_nul(request.form.items(multi=True)))
    if problems:
        raise ValidationFailed("Some fields are invalid: " + ", ".join(sorted(problems)) + ".",
                               fields=problems)
    if request.path.startswith(API_PREFIX + "/") and not _upload_limit():
        _require_json_body()
    body = request.get_data(cache=True) if request.is_json else b""
    if body:
        try:
            strict_loads(body)
        except StrictJsonError as exc:
            if exc.field is None:
                raise MalformedJson(exc.message) from None
            raise ValidationFailed(f"Some fields are invalid: {exc.field}.",
                                   fields={exc.field: [exc.message]}) from None


def _require_json_body() -> None:
    """A non-empty API body must say it is JSON (see the module's docstring)."""
    if request.is_json or not (request.content_length or request.get_data(cache=True)):
        return
    sent = (request.headers.get("Content-Type") or "")[:100]
    said = f"this request said 'Content-Type: {sent}'" if sent else "it had no Content-Type"
    raise UnsupportedMediaType(
        f"Send the body as JSON with the header 'Content-Type: application/json' ({said}; "
        "with curl: -H 'Content-Type: application/json').")


def numeric_bounds(self, field, ret: dict, **kwargs: Any) -> dict:
    """apispec attribute function: a number's documented minimum and maximum are numbers
    (apispec writes a Decimal field's bounds as the field serialises them, strings, which
    the OpenAPI document may not contain)."""
    updated = {}
    if ret.get("type") in ("number", "integer"):
        for key in ("minimum", "maximum"):
            if isinstance(ret.get(key), (str, Decimal)):
                number = Decimal(str(ret[key]))
                updated[key] = int(number) if number == number.to_integral_value() else float(number)
    return updated


def init_app(app: Flask, *, documented: bool = True) -> None:
    """Before any blueprint is registered (its rules read the converters then); after
    api.init_app when the app serves the OpenAPI document (`documented`)."""
    app.url_map.converters["int"] = Int32Converter
    app.request_class = UploadAwareRequest
    app.before_request(check_request)
    if documented:
        api.ma_plugin.converter.add_attribute_function(numeric_bounds)
