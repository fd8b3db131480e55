"""The channels file (download and all-or-nothing upload with per-row problems), the auto
activation choices on the channel form, and the channel's history and notices."""

import io
import json

import responses
import sqlalchemy as sa

from loyalty.background import TaskName
from loyalty.web import i18n
from tests.web.conftest import sign_up, text
from tests.web.test_channels import CHANNEL, _merchant_id, _new_channel
from tests.web.test_setup_templates import _key

DARAJA = "https://sandbox.daraja.test"


def _upload(client, payload, name="mpesa-channels.json"):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post("/channels/transfer", data={"file": (io.BytesIO(raw), name)},
                       content_type="multipart/form-data")


def _channel_names(db_session, merchant_id):
    return db_session.scalars(sa.text(
        "SELECT name FROM mpesa_channels WHERE merchant_id = :m ORDER BY id"),
        {"m": merchant_id}).all()


def test_download_lists_the_channels_without_any_secret(client, db_session):
    sign_up(client)
    _new_channel(client, auto_activate="y")
    answer = client.get("/channels/export.json")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    body = answer.get_json()
    assert body["next_cursor"] is None
    assert [item["name"] for item in body["items"]] == ["Main PayBill"]
    assert body["items"][0]["auto_activate"] is True
    raw = answer.get_data(as_text=True)
    for secret in (CHANNEL["consumer_key"], CHANNEL["consumer_secret"], CHANNEL["passkey"]):
        assert secret not in raw


def test_a_downloaded_file_uploads_back_as_new_channels(client, db_session):
    sign_up(client)
    channel_id = _new_channel(client)
    exported = client.get("/channels/export.json").get_json()
    exported["items"][0].update(name="Westlands till copy", is_primary=False)
    answer = _upload(client, exported)
    assert answer.status_code == 302 and answer.headers["Location"] == "/channels"
    merchant_id = _merchant_id(db_session, channel_id)
    assert _channel_names(db_session, merchant_id) == ["Main PayBill", "Westlands till copy"]
    assert "1 channel added. Add its consumer key and secret" in text(client.get("/channels"))


def test_one_bad_row_adds_nothing_and_is_shown_by_its_number(client, db_session):
    sign_up(client)
    channel_id = _new_channel(client)
    rows = [{"name": "Good one", "shortcode": "600100", "channel_type": "paybill"},
            {"name": "Bad number", "shortcode": "12", "channel_type": "paybill"},
            {"name": "Unknown program", "shortcode": "600101", "channel_type": "paybill",
             "account_mapping": {"default": "nosuchprogram"}}]
    answer = _upload(client, {"items": rows})
    assert answer.status_code == 422
    page = text(answer)
    assert "Nothing was added" in page
    assert "Row 2: shortcode: Must be a 5 to 7 digit M-Pesa number." in page
    assert "Row 1" not in page
    # The form is shown again, ready for the corrected file.
    assert 'type="file"' in answer.get_data(as_text=True)
    assert _channel_names(db_session, _merchant_id(db_session, channel_id)) == ["Main PayBill"]

    # Shapes fine, refused by the service (an unknown program): still per row, still nothing.
    answer = _upload(client, {"channels": [rows[0], rows[2]]})
    assert answer.status_code == 422
    page = text(answer)
    assert "Row 2: account mapping:" in page and "nosuchprogram" in page
    assert _channel_names(db_session, _merchant_id(db_session, channel_id)) == ["Main PayBill"]


def test_a_channel_from_the_file_that_got_a_templates_rules_says_so(client, db_session):
    # Issue 17's order, with a file: sign up, apply a template, then upload the channels.
    sign_up(client)
    page = client.get("/setup/templates/electronics-vip")
    client.post("/setup/templates/electronics-vip", data={
        "p_vip_multiplier": "2", "p_delivery_orders": "5", "p_delivery_reward": "free delivery",
        "channel_id": "", "idempotency_key": _key(page), "apply": "y"})
    rows = [{"name": "Westlands PayBill", "shortcode": "600100", "channel_type": "paybill"},
            {"name": "Own rules", "shortcode": "600101", "channel_type": "paybill",
             "account_mapping": {"default": "vip"}},
            {"name": "Counter till", "shortcode": "600102", "channel_type": "till"}]
    answer = _upload(client, {"channels": rows})
    assert answer.status_code == 302
    shown = text(client.get("/channels"))
    assert "3 channels added." in shown
    assert "The account rules of 'Electronics shop with VIP tiers' are set on Westlands " \
        "PayBill (600100): default → loyalty, VIP* → vip, DELIVERY → delivery." in shown
    # Rules of its own in the file, or a till the template does not fit: nothing to say.
    assert "set on Own rules" not in shown and "set on Counter till" not in shown


def test_a_rows_account_rule_problems_are_said_in_the_pages_language(client, monkeypatch):
    sign_up(client)
    client.get("/language?to=sw&next=/dashboard")
    # The catalogue's Swahili is written by people; a stand-in marks what went through it.
    listed = {msgid for _, msgid in i18n.NUMBERED} | set(i18n.API_SENTENCES)
    monkeypatch.setattr(i18n, "gettext", lambda msgid, **values: (
        f"[sw] {msgid % values}" if msgid in listed else msgid % values if values else msgid))
    rows = [{"name": "Till", "shortcode": "600200", "channel_type": "till",
             "account_mapping": {"VIP*": "loyalty"}},
            {"name": "PayBill", "shortcode": "600201", "channel_type": "paybill",
             "account_mapping": {"*": "loyalty", "gold": "nope", "GOLD": "loyalty",
                                 "v*p*": "loyalty", "bad!": "loyalty"}}]
    shown = text(_upload(client, {"channels": rows}))
    for said in ("[sw] 'VIP*': Till and Buy Goods payments carry no account reference, so "
                 "only 'default' can be mapped.",
                 "[sw] '*' alone matches everything: use 'default' instead.",
                 "[sw] 'GOLD' repeats 'gold' (matching ignores case).",
                 "[sw] 'v*p*': '*' may only end a prefix, as in 'VIP*'.",
                 "[sw] 'bad!': use letters, digits, spaces or - _ . / # & (up to 20 "
                 "characters, starting with a letter or digit).",
                 "[sw] Unknown program code(s): nope. Known: loyalty."):
        assert said in shown


def test_a_file_that_is_not_channels_is_refused_on_the_field(client, db_session):
    sign_up(client)
    for payload, words in ((b"\x00not json", "not readable as JSON"),
                           (b'{"items": []}', "holds no channels"),
                           (b'"just a string"', "holds no channels")):
        answer = _upload(client, payload)
        assert answer.status_code == 422
        assert words in text(answer)
    assert "Choose the file to upload." in text(client.post(
        "/channels/transfer", data={}, content_type="multipart/form-data"))


def test_the_form_turns_auto_activation_off_and_texts_on(client, db_session):
    sign_up(client)
    # Unticked boxes are not sent: auto_activate off; notify_by_sms ticked.
    channel_id = _new_channel(client, notify_by_sms="y")
    row = db_session.execute(sa.text(
        "SELECT auto_activate, notify_by_sms FROM mpesa_channels WHERE id = :i"),
        {"i": channel_id}).one()
    assert tuple(row) == (False, True)
    page = text(client.get(f"/channels/{channel_id}"))
    assert "Activates by itself no: you activate it; you get a text" in page
    edit = client.get(f"/channels/{channel_id}/edit").get_data(as_text=True)
    assert 'id="notify_by_sms" name="notify_by_sms" type="checkbox" value="y"' in edit \
        or 'name="notify_by_sms" type="checkbox" value="y" checked' in edit


def test_the_channel_page_tells_its_history_in_plain_words(client, db_session, run_task):
    sign_up(client)
    channel_id = _new_channel(client, auto_activate="y")
    merchant_id = _merchant_id(db_session, channel_id)
    setup = text(client.get(f"/channels/{channel_id}/setup"))
    assert "It activates by itself as soon as Safaricom has confirmed your details" in setup
    with responses.RequestsMock(assert_all_requests_are_fired=False) as daraja:
        daraja.add(responses.GET, f"{DARAJA}/oauth/v1/generate",
                   json={"access_token": "tok-web", "expires_in": "3599"})
        daraja.add(responses.POST, f"{DARAJA}/mpesa/c2b/v2/registerurl",
                   json={"ResponseCode": "0", "ResponseDescription": "Success"})
        client.post(f"/channels/{channel_id}/verify")
        run_task(TaskName.VERIFY_CHANNEL, merchant_id, channel_id)
        client.post(f"/channels/{channel_id}/register-urls", data={})
        run_task(TaskName.REGISTER_URLS, merchant_id, channel_id)

    page = client.get(f"/channels/{channel_id}")
    words = text(page)
    assert "History" in words
    history = words[words.index("History"):]
    assert history.index("Activated automatically after Safaricom confirmed your details.") \
        < history.index("Safaricom now sends your payments here") \
        < history.index("Safaricom confirmed your consumer key and secret.") \
        < history.index("Channel added.")
    assert "automatic" in history and "you" in history
    html = page.get_data(as_text=True)
    assert 'data-kind="activated" data-actor="auto"' in html
    # The notice, on the channel and on the dashboard.
    notice = "Main PayBill (174379) activated automatically after Safaricom confirmed your details"
    assert notice in words and notice in text(client.get("/dashboard"))

    client.post(f"/channels/{channel_id}/deactivate")
    words = text(client.get(f"/channels/{channel_id}"))
    assert "You paused the channel" in words and "stays paused until you activate it" in words
    assert notice not in text(client.get("/dashboard"))
