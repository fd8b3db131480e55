"""Africa's Talking's SMS callbacks under /hooks/sms/<SMS_CALLBACK_TOKEN>/… (SMS.md 3.2-3.4, 3.9).

AT signs nothing, so the path carries a secret, as the Daraja hooks' token does: a wrong or
missing token is a 404 with nothing stored or read (a count and a short log line, like a
stranger's Daraja callback), and the paths exist only when SMS_CALLBACK_TOKEN is set. Bodies
are forms; unknown fields are ignored and no field is required, so AT adding one (or a
report with a field missing) never turns into an error it would retry. Not rate-limited,
like every hook: a limit would drop a STOP. What a callback changes is in
services/sms_callbacks.py.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request

from loyalty.errors import NotFound
from loyalty.hooks import strangers
from loyalty.hooks.views import _error
from loyalty.services import sms_callbacks

bp = Blueprint("sms_hooks", __name__, url_prefix="/hooks/sms/<token>")

ACTIONS = {"delivery": sms_callbacks.delivery_report, "inbound": sms_callbacks.inbound,
           "optout": sms_callbacks.bulk_opt_out}


def _known(token: str) -> bool:
    expected = current_app.config.get("SMS_CALLBACK_TOKEN") or ""
    return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())


def _fields() -> dict:
    # AT posts forms; JSON is read too, for a relay or a hand-written test.
    body = request.get_json(silent=True) if request.is_json else None
    return body if isinstance(body, dict) else request.form.to_dict()


@bp.post("/<kind>")
def callback(token: str, kind: str):
    action = ACTIONS.get(kind)
    if action is None or not _known(token):
        strangers.note(f"sms/{kind}", token, request.remote_addr, request.content_length)
        return _error(NotFound("Not found."))
    outcome = action(_fields())
    return jsonify({"status": "ok", "action": outcome.action})
