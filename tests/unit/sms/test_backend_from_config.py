"""Choosing the SMS backend from settings, and masking numbers for logs."""

from __future__ import annotations

import pytest
import responses

from loyalty.sms import backend_from_config, mask_msisdn
from loyalty.sms.africastalking import AfricasTalkingBackend
from loyalty.sms.console import ConsoleBackend

AT = {
    "SMS_BACKEND": "africastalking",
    "AT_USERNAME": "acme",
    "AT_API_KEY": "atsk_live_key_0000000000000000",
    "AT_SENDER_ID": "ACME_LTD",
    "AT_BASE_URL": "https://api.africastalking.com",
}


def test_console_is_the_default():
    assert isinstance(backend_from_config({}), ConsoleBackend)
    assert isinstance(backend_from_config({"SMS_BACKEND": "console"}), ConsoleBackend)


def test_africastalking_backend_uses_the_at_settings():
    backend = backend_from_config(AT)

    assert isinstance(backend, AfricasTalkingBackend)
    with responses.RequestsMock() as http:
        http.post("https://api.africastalking.com/version1/messaging", status=201, json={
            "SMSMessageData": {"Message": "Sent", "Recipients": [
                {"statusCode": 101, "status": "Success", "messageId": "ATXid_1"}]}})
        assert backend.send("254712345678", "hi").status == "sent"
        request = http.calls[0].request
    assert request.headers["apiKey"] == AT["AT_API_KEY"]
    assert "from=ACME_LTD" in request.body
    assert "username=acme" in request.body


def test_blank_sender_id_means_none():
    assert backend_from_config({**AT, "AT_SENDER_ID": ""}).sender_id is None


def test_unknown_backend_names_the_setting():
    with pytest.raises(ValueError, match="SMS_BACKEND"):
        backend_from_config({"SMS_BACKEND": "twilio"})


def test_africastalking_without_a_key_is_refused():
    with pytest.raises(ValueError, match="AT_API_KEY"):
        backend_from_config({**AT, "AT_API_KEY": ""})


def test_sandbox_username_against_production_host_is_refused():
    with pytest.raises(ValueError, match="api.sandbox.africastalking.com"):
        backend_from_config({**AT, "AT_USERNAME": "sandbox"})


def test_live_username_against_sandbox_host_is_refused():
    with pytest.raises(ValueError, match="sandbox"):
        backend_from_config({**AT, "AT_BASE_URL": "https://api.sandbox.africastalking.com"})


def test_sandbox_account_on_sandbox_host_is_accepted():
    backend = backend_from_config({**AT, "AT_USERNAME": "sandbox",
                                   "AT_BASE_URL": "https://api.sandbox.africastalking.com"})
    assert backend.base_url == "https://api.sandbox.africastalking.com"


@pytest.mark.parametrize(("given", "masked"), [
    ("254712345678", "2547****5678"),
    ("+254112345678", "2541****5678"),
    ("0712345678", "****678"),
    ("0123456789abcdef" * 4, "hash:012345..."),
    ("2547 ***** 126", "****"),
    ("", "****"),
    (None, "****"),
])
def test_mask_msisdn(given, masked):
    assert mask_msisdn(given) == masked
