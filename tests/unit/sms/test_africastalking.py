"""AfricasTalkingBackend against a mocked gateway: exact requests out, every answer read right."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
import requests
import responses

from loyalty.sms.africastalking import AfricasTalkingBackend
from loyalty.sms.base import SmsUnavailable

BASE = "https://api.sandbox.africastalking.test"
SEND_URL = BASE + "/version1/messaging"
HASHED_URL = BASE + "/version1/messaging/bulk"
KEY = "atsk_7f3c9e0d1b2a4c5d6e7f8091a2b3c4d5"
PHONE = "254712345678"
PHONE_HASH = "a" * 8 + "0123456789abcdef" * 3 + "b" * 8
MESSAGE = "Hi John! You earned 100 VIP points. Total: 2,847 points."


def recipient(code: int | str, status: str, message_id: str = "None", cost: str = "0") -> dict:
    return {"statusCode": code, "number": "+" + PHONE, "cost": cost, "status": status,
            "messageId": message_id}


def at_answer(*recipients: dict, message: str = "Sent to 1/1 Total Cost: KES 0.8000") -> dict:
    return {"SMSMessageData": {"Message": message, "Recipients": list(recipients)}}


SUCCESS = at_answer(recipient(101, "Success", "ATXid_4c1f", "KES 0.8000"))


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def backend() -> AfricasTalkingBackend:
    return AfricasTalkingBackend(username="acme", api_key=KEY, sender_id="ACME_LTD",
                                 base_url=BASE + "/")


def form(call) -> dict[str, list[str]]:
    return parse_qs(call.request.body, keep_blank_values=True, strict_parsing=True)


def test_send_posts_the_documented_form_with_key_header(http, backend):
    http.post(SEND_URL, json=SUCCESS, status=201)

    result = backend.send(PHONE, MESSAGE)

    assert len(http.calls) == 1
    request = http.calls[0].request
    assert request.url == SEND_URL
    assert request.headers["apiKey"] == KEY
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(http.calls[0]) == {
        "username": ["acme"], "to": ["+254712345678"], "message": [MESSAGE], "from": ["ACME_LTD"],
    }
    assert result.status == "sent"
    assert result.provider_message_id == "ATXid_4c1f"
    assert result.cost == "KES 0.8000"
    assert result.error is None
    assert result.retryable is False


def test_send_without_sender_id_leaves_from_out(http):
    http.post(SEND_URL, json=SUCCESS, status=201)
    backend = AfricasTalkingBackend(username="acme", api_key=KEY, sender_id="", base_url=BASE)

    backend.send(PHONE, "Habari")

    assert form(http.calls[0]) == {"username": ["acme"], "to": ["+254712345678"],
                                   "message": ["Habari"]}


@pytest.mark.parametrize("code", [100, 101, 102, "102"])
def test_processed_sent_and_queued_codes_count_as_sent(http, backend, code):
    http.post(SEND_URL, json=at_answer(recipient(code, "Queued", "ATXid_9", "KES 0.8000")), status=201)

    result = backend.send(PHONE, MESSAGE)

    assert (result.status, result.provider_message_id) == ("sent", "ATXid_9")


@pytest.mark.parametrize(("code", "status"), [
    (401, "RiskHold"), (402, "InvalidSenderId"), (403, "InvalidPhoneNumber"),
    (405, "InsufficientBalance"), (406, "UserInBlacklist"), (409, "DoNotDisturbRejection"),
])
def test_recipient_rejections_fail_for_good(http, backend, code, status):
    http.post(SEND_URL, json=at_answer(recipient(code, status)), status=201)

    result = backend.send(PHONE, MESSAGE)

    assert result.status == "failed"
    assert result.error == f"{code} {status}"
    assert result.retryable is False
    assert result.provider_message_id is None


def test_rejection_without_status_text_is_named_from_the_code(http, backend):
    http.post(SEND_URL, json=at_answer({"statusCode": 406, "number": "+" + PHONE}), status=201)

    assert backend.send(PHONE, MESSAGE).error == "406 UserInBlacklist"


@pytest.mark.parametrize(("code", "status"), [
    (500, "InternalServerError"), (501, "GatewayError"), (502, "RejectedByGateway"),
])
def test_gateway_side_recipient_codes_are_retryable(http, backend, code, status):
    http.post(SEND_URL, json=at_answer(recipient(code, status)), status=201)

    result = backend.send(PHONE, MESSAGE)

    assert (result.status, result.error, result.retryable) == ("failed", f"{code} {status}", True)


def test_no_recipients_fails_with_the_gateway_message(http, backend):
    http.post(SEND_URL, json=at_answer(message="InvalidSenderId"), status=201)

    result = backend.send(PHONE, MESSAGE)

    assert result.status == "failed"
    assert "InvalidSenderId" in result.error
    assert result.retryable is False


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_rate_limits_raise_unavailable(http, backend, status):
    http.post(SEND_URL, body="upstream trouble", status=status)

    with pytest.raises(SmsUnavailable, match=str(status)):
        backend.send(PHONE, MESSAGE)


def test_read_timeout_raises_unavailable_and_warns_of_a_possible_send(http, backend):
    http.post(SEND_URL, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(SmsUnavailable, match="may have been sent"):
        backend.send(PHONE, MESSAGE)


@pytest.mark.parametrize("error", [requests.ConnectTimeout("connect"),
                                   requests.ConnectionError("refused")])
def test_unreachable_gateway_raises_unavailable(http, backend, error):
    http.post(SEND_URL, body=error)

    with pytest.raises(SmsUnavailable):
        backend.send(PHONE, MESSAGE)


def test_bad_api_key_fails_without_retry_and_without_the_key(http, backend):
    http.post(SEND_URL, body="The supplied authentication is invalid", status=401,
              content_type="text/plain")

    result = backend.send(PHONE, MESSAGE)

    assert result.status == "failed"
    assert result.retryable is False
    assert "HTTP 401" in result.error
    assert "The supplied authentication is invalid" in result.error
    assert "AT_API_KEY" in result.error
    assert KEY not in result.error


def test_error_bodies_echoing_the_key_or_number_are_scrubbed(http, backend):
    http.post(SEND_URL, body=f"Bad request for key {KEY} to +{PHONE}", status=400)

    result = backend.send(PHONE, MESSAGE)

    assert KEY not in result.error
    assert PHONE not in result.error
    assert "2547****5678" in result.error


def test_non_json_success_body_fails_without_retry(http, backend):
    http.post(SEND_URL, body="<html>proxy page</html>", status=200, content_type="text/html")

    result = backend.send(PHONE, MESSAGE)

    assert result.status == "failed"
    assert result.retryable is False
    assert "may have been sent" in result.error


def test_redirect_is_not_followed_and_points_at_the_base_url(http, backend):
    http.post(SEND_URL, status=301, headers={"Location": "https://elsewhere.test/collect"})

    result = backend.send(PHONE, MESSAGE)

    assert len(http.calls) == 1
    assert result.status == "failed"
    assert "AT_BASE_URL" in result.error


@pytest.mark.parametrize("to", ["0712345678", "+254712345678", "254812345678", ""])
def test_malformed_recipient_fails_before_any_request(http, backend, to):
    result = backend.send(to, MESSAGE)

    assert result.status == "failed"
    assert result.retryable is False
    assert len(http.calls) == 0


def test_empty_message_is_not_sent(http, backend):
    assert backend.send(PHONE, "   ").error == "message is empty"
    assert len(http.calls) == 0


def test_hashed_send_posts_masked_number_to_the_bulk_endpoint(http, backend):
    http.post(HASHED_URL, json={"status": "Success", "messageId": "ATXid_h1"}, status=201)

    result = backend.send_hashed(PHONE_HASH, MESSAGE)

    request = http.calls[0].request
    assert request.url == HASHED_URL
    assert request.headers["apiKey"] == KEY
    assert request.headers["Accept"] == "application/json"
    assert form(http.calls[0]) == {
        "username": ["acme"], "maskedNumber": [PHONE_HASH], "telco": ["Safaricom"],
        "message": [MESSAGE], "senderId": ["ACME_LTD"],
    }
    assert (result.status, result.provider_message_id) == ("sent", "ATXid_h1")


def test_hashed_send_without_sender_id_leaves_sender_out(http):
    http.post(HASHED_URL, json={"status": "Success"}, status=201)
    backend = AfricasTalkingBackend(username="acme", api_key=KEY, sender_id=None, base_url=BASE)

    backend.send_hashed(PHONE_HASH, MESSAGE)

    assert "senderId" not in form(http.calls[0])


def test_hashed_send_reads_the_recipients_shape(http, backend):
    http.post(HASHED_URL, json=at_answer(recipient(406, "UserInBlacklist")), status=201)

    result = backend.send_hashed(PHONE_HASH, MESSAGE)

    assert (result.status, result.error, result.retryable) == ("failed", "406 UserInBlacklist", False)


def test_hashed_send_reports_a_top_level_failure(http, backend):
    http.post(HASHED_URL, json={"status": "Failed", "errorMessage": "InvalidMaskedNumber"},
              status=200)

    result = backend.send_hashed(PHONE_HASH, MESSAGE)

    assert result.status == "failed"
    assert result.error == "Failed: InvalidMaskedNumber"


@pytest.mark.parametrize("answer", [{"body": "OK"}, {"json": {"errorMessage": "None"}},
                                    {"json": {"statusCode": 201, "messageId": "ATXid_h2"}}])
def test_hashed_send_counts_an_unrecognised_2xx_as_sent(http, backend, answer):
    http.post(HASHED_URL, status=200, **answer)

    assert backend.send_hashed(PHONE_HASH, MESSAGE).status == "sent"


def test_hashed_send_raises_unavailable_on_server_error(http, backend):
    http.post(HASHED_URL, status=503)

    with pytest.raises(SmsUnavailable):
        backend.send_hashed(PHONE_HASH, MESSAGE)


def test_hashed_send_refuses_a_value_that_is_not_a_hash(http, backend):
    assert backend.send_hashed(PHONE, MESSAGE).status == "failed"
    assert len(http.calls) == 0


def test_logs_never_hold_a_full_number_hash_or_key(http, backend, caplog):
    caplog.set_level(logging.DEBUG)
    http.post(SEND_URL, json=SUCCESS, status=201)
    http.post(SEND_URL, json=at_answer(recipient(406, "UserInBlacklist")), status=201)
    http.post(SEND_URL, body=f"invalid key {KEY}", status=401)
    http.post(SEND_URL, status=500)
    http.post(HASHED_URL, json={"status": "Failed", "errorMessage": "x"}, status=200)

    backend.send(PHONE, MESSAGE)
    backend.send(PHONE, MESSAGE)
    backend.send(PHONE, MESSAGE)
    with pytest.raises(SmsUnavailable):
        backend.send(PHONE, MESSAGE)
    backend.send_hashed(PHONE_HASH, MESSAGE)

    assert "2547****5678" in caplog.text
    assert "406 UserInBlacklist" in caplog.text
    assert PHONE not in caplog.text
    assert PHONE[3:] not in caplog.text
    assert PHONE_HASH not in caplog.text
    assert KEY not in caplog.text


def test_repr_does_not_show_the_key(backend):
    assert KEY not in repr(backend)


def test_missing_credentials_are_refused():
    with pytest.raises(ValueError, match="AT_API_KEY"):
        AfricasTalkingBackend(username="acme", api_key="", sender_id=None, base_url=BASE)


def test_insufficient_balance_says_the_account_is_out_of_credit(http, backend):
    http.post(SEND_URL, json=at_answer(recipient(405, "InsufficientBalance")), status=201)
    by_recipient = backend.send(PHONE, MESSAGE)
    http.replace(responses.POST, SEND_URL, json=at_answer(message="InsufficientBalance"),
                 status=201)
    without_recipients = backend.send(PHONE, MESSAGE)

    assert (by_recipient.out_of_credit, by_recipient.code) == (True, "405")
    assert without_recipients.out_of_credit is True
    http.replace(responses.POST, SEND_URL, json=at_answer(recipient(406, "UserInBlacklist")),
                 status=201)
    assert backend.send(PHONE, MESSAGE).out_of_credit is False


def test_the_callers_timeout_bounds_the_call_within_the_backends_own(http, backend):
    http.post(SEND_URL, json=SUCCESS, status=201)

    backend.send(PHONE, MESSAGE, timeout=0.25)
    backend.send(PHONE, MESSAGE, timeout=60)
    backend.send(PHONE, MESSAGE)

    assert [call.request.req_kwargs["timeout"] for call in http.calls] == [0.25, 10, 10]


def test_one_connection_pool_sized_for_the_concurrent_calls():
    backend = AfricasTalkingBackend(username="acme", api_key=KEY, sender_id=None, base_url=BASE,
                                    pool_size=32)
    assert backend._session.get_adapter(BASE)._pool_maxsize == 32
    assert backend.account == "platform"
