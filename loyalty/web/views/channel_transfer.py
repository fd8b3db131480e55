"""Channels to and from a file: download the merchant's channel configurations (the API's
export, never a secret) and upload such a file to add them all at once — all or nothing,
through the same service as POST /api/v1/mpesa-channels/import, each problem shown beside
the row number it belongs to."""

from __future__ import annotations

import json

from flask import Response, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from marshmallow import ValidationError

from loyalty import strict_json
from loyalty.errors import DomainError
from loyalty.schemas.channels import ChannelExportSchema, ChannelImportSchema
from loyalty.services import channel_transfer
from loyalty.services import channels as service
from loyalty.web.blueprint import bp
from loyalty.web.channel_forms import ChannelImportForm
from loyalty.web.formtools import page
from loyalty.web.i18n import say
from loyalty.web.setup_template_words import rules_notice

EXPORT_NAME = "mpesa-channels.json"


@bp.get("/channels/export.json", endpoint="export_channels")
def export_channels():
    items = ChannelExportSchema(many=True).dump(service.list_channels())
    body = json.dumps({"items": items, "next_cursor": None}, indent=2, ensure_ascii=False)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{EXPORT_NAME}"'})


@bp.route("/channels/transfer", methods=["GET", "POST"], endpoint="channel_transfer")
def transfer():
    form = ChannelImportForm()
    rows: list[dict] = []
    if form.validate_on_submit():
        problems = None
        try:
            channels = _rows(form.file.data.read())
            data = ChannelImportSchema().load({"channels": channels})
        except _Unreadable as exc:
            form.file.errors = [str(exc)]
        except ValidationError as exc:
            problems = exc.messages
        else:
            try:
                created = channel_transfer.import_channels(data["channels"])
            except DomainError as error:
                problems = error.fields or {"_file": [error.message]}
                form.form_errors.append(error.message)
            else:
                flash(ngettext("%(count)s channel added. Add its consumer key and secret, then "
                               "verify it.",
                               "%(count)s channels added. Add each one's consumer key and "
                               "secret, then verify it.", len(created), count=len(created)),
                      "success")
                # Rules the merchant did not put in the file: say which channel got whose.
                for channel in created:
                    notice = rules_notice(channel, named=True)
                    if notice:
                        flash(notice, "success")
                return redirect(url_for("web.channels"))
        if problems is not None:
            rows = _row_problems(problems)
            if not form.form_errors:
                form.form_errors.append(_("Nothing was added: fix the rows below and upload "
                                          "the file again."))
    return page("web/channel_transfer.html", form, rows=rows)


class _Unreadable(ValueError):
    """The file is not a list of channels."""


def _rows(raw: bytes) -> list:
    """The channels in an uploaded file: an export (`items`), an import body (`channels`)
    or a bare list."""
    try:
        parsed = strict_json.loads(raw)
    except strict_json.StrictJsonError as exc:
        raise _Unreadable(_("This file is not readable as JSON: %(problem)s",
                            problem=exc.message)) from None
    if isinstance(parsed, dict):
        parsed = parsed.get("items", parsed.get("channels"))
    if not isinstance(parsed, list) or not parsed:
        raise _Unreadable(_("This file holds no channels: upload the file Download gives "
                            "you."))
    return parsed


def _row_problems(messages) -> list[dict]:
    """[{"row": 1-based number, "problems": ["field: why", ...]}] from the schema's or the
    service's `{"channels": {index: {field: [why]}}}`."""
    per_row = messages.get("channels", messages) if isinstance(messages, dict) else messages
    if not isinstance(per_row, dict):
        return [{"row": None, "problems": _flatten(per_row)}]
    found = []
    for index, fields in per_row.items():
        try:
            number = int(index) + 1
        except (TypeError, ValueError):
            found.append({"row": None, "problems": _flatten(fields)})
            continue
        found.append({"row": number, "problems": _flatten(fields)})
    return sorted(found, key=lambda r: (r["row"] is not None, r["row"] or 0))


def _flatten(problems, name: str | None = None) -> list[str]:
    if isinstance(problems, dict):
        return [text for key, value in problems.items()
                for text in _flatten(value, key if key != "_row" else name)]
    if isinstance(problems, (list, tuple)):
        return [text for value in problems for text in _flatten(value, name)]
    # The field keeps the file's own name for it (what the merchant fixes in the file); the
    # problem is the API's English sentence, said in the page's language.
    return [f"{name.replace('_', ' ')}: {say(problems)}" if name and name != "_schema"
            else str(say(problems))]
