"""Glue between WTForms and the API's schemas and domain errors.

A submitted form is loaded through the same marshmallow schema as the API body, and a
DomainError from a service is shown where it belongs: its `fields` next to the matching
inputs, its message at the top of the form.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from flask import render_template
from marshmallow import Schema, ValidationError

from loyalty.errors import DomainError


def values(form, names: Iterable[str], *, blank: str = "omit") -> dict[str, Any]:
    """The named fields' data, strings trimmed. Blank inputs are left out (`blank="omit"`,
    so schema defaults apply) or sent as None (`blank="none"`, to clear a value)."""
    data: dict[str, Any] = {}
    for name in names:
        value = form[name].data
        if isinstance(value, str):
            value = value.strip()
        if value in ("", None):
            if blank == "none":
                data[name] = None
            continue
        data[name] = value
    return data


def checked(form, schema: Schema, build: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """For a submitted form: WTForms' checks (and the CSRF token) and the schema's, with
    every problem shown at once; the loaded data when both pass, else None."""
    if not form.is_submitted():
        return None
    valid = form.validate()
    data = load(form, schema, build())
    return data if valid else None


def load(form, schema: Schema, data: dict[str, Any]) -> dict[str, Any] | None:
    """`schema.load(data)`, or None with every problem attached to the form."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        attach(form, exc.messages)
        return None


def show_error(form, error: DomainError) -> None:
    """Put a service's error on the form: field problems inline, the message on top."""
    form.form_errors.append(error.message)
    if error.fields:
        attach(form, error.fields)


def attach(form, messages: Any) -> None:
    """Problems keyed by field name go next to that field; any others go on top."""
    if not isinstance(messages, dict):
        form.form_errors.extend(_flatten(messages))
        return
    for name, problems in messages.items():
        field = form._fields.get(name) if isinstance(name, str) else None
        if field is not None:
            # The first problem found is enough; the schema often repeats WTForms' check.
            if not field.errors:
                field.errors = _flatten(problems)
        else:
            form.form_errors.extend(_flatten(problems))


def _flatten(problems: Any) -> list[str]:
    if isinstance(problems, dict):
        return [text for value in problems.values() for text in _flatten(value)]
    if isinstance(problems, (list, tuple)):
        return [text for value in problems for text in _flatten(value)]
    return [str(problems)]


def has_errors(form) -> bool:
    """Any problem on the form or its fields, nested forms (FieldList rows) included."""
    return bool(form.form_errors) or any(_field_has_errors(field) for field in form)


def _field_has_errors(field) -> bool:
    if field.type == "FieldList":
        return any(_field_has_errors(entry) for entry in field.entries)
    if field.type == "FormField":
        return has_errors(field.form)
    return bool(field.errors)


def page(template: str, form, status: int | None = None, **context):
    """Render a form page: 422 when a submitted form has problems, so tests and tools can
    tell a refused form from a fresh one."""
    if status is None:
        status = 422 if form.is_submitted() and has_errors(form) else 200
    return render_template(template, form=form, **context), status
