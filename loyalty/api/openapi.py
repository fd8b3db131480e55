"""The OpenAPI document as a client generator needs it (issue 15).

flask-smorest writes paths and schemas from the blueprints; this module adds what it does
not know: the error body the app really sends (`{"error": {code, message, fields}}`, not
flask-smorest's default), the errors each operation can answer (400, 401, 404, 409, 415,
422; 429 is ratelimits.py's), an `operationId` per operation, `servers`, the conventions
in `info.description`, and field types as they travel: money as decimal strings, Kenyan
phones and account mappings with the rules the server applies.
`tests/integration/test_openapi.py` fails when an operation lacks any of these.
"""

from __future__ import annotations

from typing import Any, Callable

from apispec import BasePlugin
from apispec.exceptions import DuplicateComponentNameError
from flask import Flask
from marshmallow import Schema, fields

from loyalty.schemas.base import KenyanPhone

ERROR_SCHEMA_NAME = "Error"

CONVENTIONS = """\
REST API of M-Pesa Loyalty: merchants connect their own M-Pesa channels (PayBill, Till, Buy
Goods); payments are routed to loyalty programs by account reference, credited exactly once
and texted to the customer.

**Authentication.** `Authorization: Bearer <api key>` on every operation except
`POST /api/v1/merchants` and the password reset. `POST /api/v1/merchants` answers the first
key; more with `POST /api/v1/api-keys`. Each key is shown once.

**Bodies** are JSON: send `Content-Type: application/json` (any other Content-Type with a
body is a 415 naming the header; curl's `-d` alone sends a form type).

**Errors** always have one body: `{"error": {"code": "snake_case", "message": "a sentence",
"fields": {"name": ["why"]}}}` (`fields` on 422 only). 400 malformed JSON, 401 no or bad
key, 404 not found or another merchant's (never 403), 409 conflict or illegal state (the
code says which), 415 a body that is not JSON, 422 validation, 429 rate limit (with
`Retry-After`). A step that failed at Safaricom (verification, URL registration, Pull) is
reported the same way inside the channel: `verification.error` = `{code, message}`.

**Lists** are pages: `{"items": [...], "next_cursor": 42}`; pass `next_cursor` back as
`cursor` (with the same filters) until it is null; `limit` sets the page size.

**Money** is a decimal string in KES with two places (`"5000.00"`), in answers and, by
preference, in requests (numbers are accepted). Points and stamps are integers; times are
ISO 8601 in UTC.

**Phones** are Kenyan mobiles in any usual form (`0712345678`, `+254712345678`,
`254712345678`, `712345678`; spaces and dashes ignored) and come back as `2547XXXXXXXX`.

**Idempotency.** Redemptions, adjustments and reversals take an `idempotency_key`: the same
key and body again returns the first result (200), the same key with another body is 409.

The seed's flow: register (`POST /merchants`), add a channel (`POST /mpesa-channels`),
verify it (`POST /mpesa-channels/{id}/verify?wait=10`), register its URLs
(`POST /mpesa-channels/{id}/register-urls?wait=10`), activate it; payments then appear
under `GET /transactions`.
"""

_JSON = "application/json"


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {_JSON: {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}}}}


BAD_REQUEST = _error_response("Malformed JSON (`malformed_request`).")
UNAUTHORIZED = _error_response("No API key, or one that is unknown or revoked (`unauthorized`).")
NOT_FOUND = _error_response("No such object among the caller's own; another merchant's is "
                            "not found either (`not_found`).")
UNSUPPORTED = _error_response("A body whose Content-Type is not application/json "
                              "(`unsupported_media_type`); the message names the header.")
UNPROCESSABLE = _error_response("Validation failed (`validation_error` or a more specific "
                                "code); `fields` names each field with why.")


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={
        "description": "stable and snake_case: not_found, validation_error, shortcode_taken…",
        "example": "validation_error"})
    message = fields.String(required=True, metadata={
        "description": "what went wrong and what to do, as one sentence or a few",
        "example": "Some fields are invalid: phone ('12' is not a phone number)."})
    fields = fields.Dict(keys=fields.String(), values=fields.Raw(), metadata={
        "description": "422 only: each invalid field with its reasons (a list of sentences; "
                       "nested for a mapping's keys or a list's items)",
        "example": {"phone": ["'12' is not a phone number"]}})


class ErrorSchema(Schema):
    """The one error body of every 4xx and 5xx answer."""

    error = fields.Nested(ErrorDetailSchema, required=True)


def conflict(description: str) -> Callable:
    """Declare the 409 a view can answer and why (the code names the case)."""
    def mark(view):
        view._conflict = description
        return view

    return mark


class OpenApiConventions(BasePlugin):
    """operationId and the error answers of each operation (see the module docstring)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        view = self.app.view_functions.get(rule.endpoint) if rule is not None else None
        for method, operation in (operations or {}).items():
            if rule is not None:
                name = rule.endpoint.replace(".", "_")
                operation.setdefault("operationId", name if len(operations) == 1
                                     else f"{name}_{method}")
            # flask-smorest keys statuses as ints, apispec plugins (ours, 429's) as strings
            responses = {str(status): response
                         for status, response in operation.get("responses", {}).items()}
            operation["responses"] = responses
            has_body = "requestBody" in operation
            if has_body:
                responses.setdefault("400", BAD_REQUEST)
                responses.setdefault("415", UNSUPPORTED)
            if operation.get("security") != []:
                responses.setdefault("401", UNAUTHORIZED)
            if "{" in (path or ""):
                responses.setdefault("404", NOT_FOUND)
            if has_body or operation.get("parameters") or "422" in responses:
                responses["422"] = UNPROCESSABLE
            if getattr(view, "_conflict", None):
                responses.setdefault("409", _error_response(view._conflict))
            for status, response in responses.items():
                # An error declared with words only (alt_response) has the one body too.
                if status[0] in "45" and isinstance(response, dict) and "content" not in response:
                    responses[status] = _error_response(response.get("description", ""))


# --- field types as they travel -------------------------------------------------------------


def _bounds_in_words(ret: dict) -> str:
    """A string has no minimum or maximum in OpenAPI 3.0: the bounds move to the words,
    and to x-minimum / x-maximum (numbers) for tools that read them."""
    low, high = ret.pop("minimum", None), ret.pop("maximum", None)
    ret.update({name: value for name, value in (("x-minimum", low), ("x-maximum", high))
                if value is not None})
    if low is not None and high is not None:
        return f" From {low} to {high}."
    if low is not None:
        return f" At least {low}."
    return f" At most {high}." if high is not None else ""


def field_types(self, field, ret: dict, **kwargs: Any) -> dict:
    """apispec attribute function: money as decimal strings, phones and mappings with
    their rules (each documented as the server reads it)."""
    if isinstance(field, fields.Decimal) and getattr(field, "as_string", False):
        # marshmallow keeps `places` as a quantum (Decimal("0.01")): two places
        places = -field.places.as_tuple().exponent if field.places is not None else None
        pattern = r"^-?\d+(\.\d{1,%d})?$" % places if places else r"^-?\d+(\.\d+)?$"
        described = ret.get("description", "")
        kind = "KES" if places == 2 else "decimal"
        words = (f"{described + ' — ' if described else ''}A {kind} amount as a decimal string"
                 f"{' with up to ' + str(places) + ' places' if places else ''} (numbers are "
                 f"accepted in requests).{_bounds_in_words(ret)}")
        ret.update(type="string", format="decimal", pattern=pattern, description=words,
                   example=ret.get("example", "5000.00" if places == 2 else "1.5"))
        return ret
    if isinstance(field, KenyanPhone):
        described = ret.get("description", "")
        # As loose as phones.normalise_msisdn: spaces, dashes, dots and brackets anywhere
        # ("(+254) 712 345678"), so a client that checks the pattern refuses no phone we take.
        ret.update(pattern=r"^[\s(]*\+?[0-9 ()\-.]{8,20}$", example=ret.get("example", "0712345678"),
                   description=(f"{described + ' — ' if described else ''}A Kenyan mobile number "
                                "in any usual form (0712345678, +254712345678, 254712345678, "
                                "712345678, 0110123456; spaces, dashes and brackets ignored); "
                                "answered as 2547XXXXXXXX / 2541XXXXXXXX."))
    return {}


def init_app(app: Flask, api) -> None:
    """Before the blueprints are registered (the plugin sees each operation as it is
    added); after api.init_app."""
    try:  # flask-smorest registers its ERROR_SCHEMA (ours, api/base.py) under this name
        api.spec.components.schema(ERROR_SCHEMA_NAME, schema=ErrorSchema)
    except DuplicateComponentNameError:
        pass
    api.spec.options["servers"] = [{"url": app.config["PUBLIC_BASE_URL"] or "/",
                                    "description": "this deployment (PUBLIC_BASE_URL)"}]
    api.spec.options.setdefault("info", {})["description"] = CONVENTIONS
    api.ma_plugin.converter.add_attribute_function(field_types)
    plugin = OpenApiConventions(app)
    plugin.init_spec(api.spec)
    api.spec.plugins.append(plugin)
