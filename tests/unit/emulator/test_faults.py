"""Fault injection: broken proxies, spike arrest, slow answers, failing SMS sends."""

from __future__ import annotations

import time

from tests.unit.emulator.conftest import basic, bearer, register

OAUTH = "/_emulator/daraja/oauth/v1/generate?grant_type=client_credentials"
SMS = "/_emulator/sms/version1/messaging"


def fault(client, **rule):
    response = client.post("/_emulator/control/faults", json=rule)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_next_n_calls_to_a_path_get_an_html_500(emu_client):
    fault(emu_client, target="daraja", path="/oauth/v1/generate", count=2)
    for _ in range(2):
        response = emu_client.get(OAUTH, headers=basic())
        assert response.status_code == 500
        assert response.mimetype == "text/html" and b"<html>" in response.data
    assert emu_client.get(OAUTH, headers=basic()).status_code == 200


def test_a_path_fault_leaves_other_paths_alone(emu_client, receiver):
    fault(emu_client, target="daraja", path="/mpesa/stkpush/v1/processrequest", count=1)
    headers = bearer(emu_client)
    assert register(emu_client, headers, "600000", receiver.url).status_code == 200
    faults = emu_client.get("/_emulator/state").get_json()["faults"]
    assert [f["remaining"] for f in faults] == [1]


def test_spike_arrest_and_all_path_faults(emu_client):
    fault(emu_client, target="daraja", mode="spike")
    response = emu_client.get(OAUTH, headers=basic())
    assert response.status_code == 500 and response.get_json()["errorCode"] == "500.003.02"
    assert emu_client.get(OAUTH, headers=basic()).status_code == 200


def test_delay_slows_the_answer_down(emu_client):
    fault(emu_client, target="daraja", mode="delay", delay=0.3, path="/oauth/v1/generate")
    started = time.monotonic()
    assert emu_client.get(OAUTH, headers=basic()).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_forever_faults_last_until_cleared(emu_client):
    fault(emu_client, target="daraja", forever=True, status=503)
    for _ in range(3):
        assert emu_client.get(OAUTH, headers=basic()).status_code == 503
    emu_client.delete("/_emulator/control/faults")
    assert emu_client.get(OAUTH, headers=basic()).status_code == 200


def test_sms_sends_can_fail(emu_client):
    fault(emu_client, target="sms", count=1)
    form = {"username": "sandbox", "to": "+254712345678", "message": "Hi"}
    failed = emu_client.post(SMS, data=form, headers={"apiKey": "k"})
    assert failed.status_code == 500
    assert emu_client.get("/_emulator/sms/inbox").get_json() == []
    assert emu_client.post(SMS, data=form, headers={"apiKey": "k"}).status_code == 201
    assert len(emu_client.get("/_emulator/sms/inbox").get_json()) == 1


def test_bad_fault_rules_are_refused(emu_client):
    assert emu_client.post("/_emulator/control/faults", json={"mode": "explode"}).status_code == 400
    response = emu_client.post("/_emulator/control/faults", json={"mode": "delay"})
    assert response.status_code == 400 and "delay" in response.get_json()["error"]


def settings(client, **values):
    return client.post("/_emulator/control/settings", json=values)


SMS_FORM = {"username": "sandbox", "to": "+254712345678", "message": "Hi"}


def test_the_sms_gateway_can_be_as_slow_as_the_real_one(emu_client):
    answer = settings(emu_client, sms_latency_ms=200)
    assert answer.status_code == 200 and answer.get_json()["sms_latency_ms"] == 200
    started = time.monotonic()
    sent = emu_client.post(SMS, data=SMS_FORM, headers={"apiKey": "k"})
    assert sent.status_code == 201
    assert time.monotonic() - started >= 0.2
    # Only the gateway's own paths: the inbox a test reads answers at once.
    started = time.monotonic()
    assert emu_client.get("/_emulator/sms/inbox").status_code == 200
    assert time.monotonic() - started < 0.2


def test_an_sms_error_rate_fails_that_share_of_sends(emu_client):
    settings(emu_client, sms_error_rate=1)
    assert emu_client.post(SMS, data=SMS_FORM, headers={"apiKey": "k"}).status_code == 503
    settings(emu_client, sms_error_rate=0.5)
    codes = [emu_client.post(SMS, data=SMS_FORM, headers={"apiKey": "k"}).status_code
             for _ in range(60)]
    assert 10 < codes.count(503) < 50 and codes.count(503) + codes.count(201) == 60
    settings(emu_client, sms_error_rate=0)
    assert emu_client.post(SMS, data=SMS_FORM, headers={"apiKey": "k"}).status_code == 201


def test_daraja_latency_and_errors(emu_client):
    settings(emu_client, daraja_latency_ms=150)
    started = time.monotonic()
    assert emu_client.get(OAUTH, headers=basic()).status_code == 200
    assert time.monotonic() - started >= 0.15
    settings(emu_client, daraja_latency_ms=0, daraja_error_rate=1)
    refused = emu_client.get(OAUTH, headers=basic())
    assert refused.status_code == 500 and refused.get_json()["errorCode"] == "500.003.02"


def test_settings_out_of_range_are_refused_naming_the_field(emu_client):
    for body, field in (({"sms_latency_ms": -1}, "sms_latency_ms"),
                        ({"sms_error_rate": 1.5}, "sms_error_rate"),
                        ({"daraja_latency_ms": "soon"}, "daraja_latency_ms"),
                        ({"daraja_error_rate": "nan"}, "daraja_error_rate")):
        refused = settings(emu_client, **body)
        assert refused.status_code == 400 and field in refused.get_json()["error"]
