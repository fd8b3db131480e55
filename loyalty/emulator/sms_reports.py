"""What Africa's Talking posts back to the platform (SMS.md 3.2, 3.3): a delivery report
after each accepted send, and the texts customers send to the shortcode (`STOP`).

At AT both callback URLs are set in the account's dashboard, not by an API call; the
emulator's "dashboard" is the host app's own settings, read when it is mounted (as `make
run` wires the Daraja sandbox URL to the emulator): `CALLBACK_BASE_URL` and
`SMS_CALLBACK_TOKEN` give `/hooks/sms/<token>/delivery` and `…/inbound`. Without the token
the platform has no SMS callbacks: the emulator sends no reports, and an inbound text is
only noted. The `callback_base` of `/_emulator/control/sms` overrides it, as editing the
dashboard would.

Reports go as forms, like AT's, a moment after the send's answer (`sms_delivery_delay`):
AT's report never arrives before its send was answered, and the platform can only match
a report once it has recorded the message id from that answer. `sms_delivery` in
`/_emulator/control/settings` makes them say `Success` (`delivered`), `Failed` with
`sms_failure_reason` (`failed`), or sends none (`off`).
"""

from __future__ import annotations

import secrets
from typing import Any

from loyalty.emulator.core import Emulator
from loyalty.emulator.payloads import eat_now

DELIVERY_MODES = ("delivered", "failed", "off")
SAFARICOM_NETWORK = "63902"  # MCC-MNC (SMS.md 3.2)


def callback_base(emulator: Emulator) -> str | None:
    """Where AT's callbacks go: the dashboard's setting, else the host app's own."""
    chosen = emulator.state.sms_settings().get("callback_base") or emulator.sms_callback_base
    return chosen.rstrip("/") if chosen else None


def _shown(url: str) -> str:
    """The URL as the emulator's page and state show it: the path secret left out."""
    head, sep, rest = url.partition("/hooks/sms/")
    return f"{head}{sep}…/{rest.partition('/')[2]}" if sep else url


def schedule_report(emulator: Emulator, message_id: str, number: str) -> None:
    """After an accepted send: post its delivery report in a moment, unless switched off."""
    settings = emulator.state.settings()
    mode = settings["sms_delivery"]
    if mode == "off" or callback_base(emulator) is None:
        return  # AT sends no report to an account without a delivery-report URL
    body: dict[str, Any] = {"id": message_id, "phoneNumber": number,
                            "networkCode": SAFARICOM_NETWORK, "retryCount": "0",
                            "status": "Success" if mode == "delivered" else "Failed"}
    if mode == "failed":
        body["failureReason"] = settings["sms_failure_reason"]
    emulator.dispatcher.submit(lambda: _post(emulator, "sms_delivery", "delivery", body,
                                             message_id),
                               delay=float(settings["sms_delivery_delay"]))


def send_inbound(emulator: Emulator, phone: str, text: str, to: str) -> None:
    """A customer texts the shortcode: AT posts it to the inbound callback, soon after."""
    body = {"from": f"+{phone}", "to": to, "text": text, "date": eat_now().strftime("%Y-%m-%d %H:%M:%S"),
            "id": secrets.token_hex(8), "linkId": "",
            "networkCode": SAFARICOM_NETWORK}
    emulator.dispatcher.submit(lambda: _post(emulator, "sms_inbound", "inbound", body, text))


def _post(emulator: Emulator, kind: str, path: str, body: dict[str, Any], ref: str) -> None:
    base = callback_base(emulator)
    if base is None:
        emulator.deliverer.note(kind, ref, "no SMS callback URL (the platform has no "
                                           "SMS_CALLBACK_TOKEN)", body)
        return
    url = f"{base}/{path}"
    emulator.deliverer.deliver(kind, url, body, ref=ref, form=True, shown_url=_shown(url))

