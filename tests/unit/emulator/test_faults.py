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
