"""Webhooks to the merchant: endpoints over the API, signed deliveries to a real receiver on
a loopback port, retries, one delivery per event, the delivery log and its replay."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import responses
import sqlalchemy as sa

from loyalty.background import TaskName
from tests.integration.conftest import VIP, c2b_body, make_shop, published
from tests.receivers import receiving


@pytest.fixture
def acme(client, db_session):
    return make_shop(client, db_session, programs=[VIP],
                     mapping={"default": "loyalty", "VIP*": "vip"})


def verify(secret: str, header: str, body: str, tolerance: int = 300) -> bool:
    """A receiver's check, written from docs/WEBHOOKS.md with nothing of the app's code:
    t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>, any v1 may match."""
    parts = [part.split("=", 1) for part in header.split(",")]
    timestamp = [value for key, value in parts if key == "t"][0]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, value) for key, value in parts if key == "v1")


def endpoint(shop, url, events=("payment.received", "payment.credited"), **extra):
    response = shop.api("POST", "/webhook-endpoints", json={"url": url, "events": list(events),
                                                            **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def deliver_all(broker, run_task, rounds: int = 20, wait: float = 0.0) -> int:
    """Run what was published to the `webhooks` queue, as a worker would, until it is empty
    (a retry's task comes back to the queue: waiting `wait` lets its countdown pass)."""
    ran = 0
    for _ in range(rounds):
        messages = published(broker("webhooks"))
        if not messages:
            return ran
        time.sleep(wait)
        for name, args in messages:
            run_task(name, *args)
            ran += 1
    return ran


def pay_and_credit(shop, run_task, trans_id="RKTQDM7W6S", **body):
    payload = c2b_body(trans_id=trans_id, **body)
    assert shop.hook("c2b/confirmation", payload).status_code == 200
    run_task(TaskName.CREDIT_WAITING)
    return payload


def test_a_payment_reaches_the_merchants_endpoint_signed_with_its_secret(
        acme, run_task, broker, db_session):
    with receiving() as receiver:
        created = endpoint(acme, receiver.url)
        secret = created["secret"]
        assert secret.startswith("whsec_")
        confirmation = pay_and_credit(acme, run_task)
        deliver_all(broker, run_task)
        received, credited = receiver.of_type("payment.received"), receiver.of_type("payment.credited")
    assert len(received) == 1 and len(credited) == 1
    for request in received + credited:
        assert verify(secret, request.headers["Loyalty-Signature"], request.body)
        assert not verify("whsec_someone-elses", request.headers["Loyalty-Signature"], request.body)
        assert request.headers["Content-Type"] == "application/json"
    # payment.received is Safaricom's confirmation as Safaricom sent it
    assert json.loads(received[0].body) == confirmation
    event = json.loads(credited[0].body)
    assert event["type"] == "payment.credited" and event["id"] == credited[0].headers["Loyalty-Event-Id"]
    assert event["data"]["payment"]["trans_id"] == "RKTQDM7W6S"
    assert event["data"]["payment"]["amount"] == "5000.00"
    assert event["data"]["payment"]["points"] == 100 and event["data"]["program"] == "vip"
    assert event["data"]["balance"] == 100
    # the secret is never shown again, and is not stored as sent
    shown = acme.api("GET", f"/webhook-endpoints/{created['endpoint']['id']}").get_data(as_text=True)
    assert secret not in shown and "secret\"" not in shown.replace("previous_secret_expires_at", "")
    stored = db_session.execute(sa.text("SELECT secret FROM webhook_endpoints")).scalar()
    assert secret not in stored


def test_a_body_changed_in_transit_fails_verification(acme, run_task, broker):
    with receiving() as receiver:
        secret = endpoint(acme, receiver.url, events=["payment.credited"])["secret"]
        pay_and_credit(acme, run_task)
        deliver_all(broker, run_task)
        [request] = receiver.received
    tampered = request.body.replace("5000.00", "50000.00")
    assert tampered != request.body
    assert not verify(secret, request.headers["Loyalty-Signature"], tampered)


def test_duplicate_callbacks_make_exactly_one_delivery_per_event(acme, run_task, broker, db_session):
    with receiving() as receiver:
        endpoint(acme, receiver.url)
        body = c2b_body(trans_id="DUPL000001")
        for _ in range(3):
            assert acme.hook("c2b/confirmation", body).status_code == 200
        run_task(TaskName.CREDIT_WAITING)
        for _ in range(2):
            assert acme.hook("c2b/confirmation", body).status_code == 200
            run_task(TaskName.CREDIT_WAITING)
        payment_id = acme.api("GET", "/transactions").get_json()["items"][0]["id"]
        assert acme.api("POST", f"/transactions/{payment_id}/replay").status_code == 200
        deliver_all(broker, run_task)
        # a task delivered twice (the broker's redelivery) sends nothing more
        for delivery_id in db_session.execute(sa.text("SELECT id FROM webhook_deliveries")).scalars():
            run_task(TaskName.DELIVER_WEBHOOKS, acme.merchant_id, [delivery_id])
        types = sorted(r.headers["Loyalty-Event-Type"] for r in receiver.received)
    assert types == ["payment.credited", "payment.received"]
    assert db_session.execute(sa.text("SELECT count(*) FROM webhook_deliveries")).scalar() == 2


def test_a_receiver_failing_twice_gets_the_same_event_until_it_succeeds(
        acme, run_task, broker, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_BASE_SECONDS", 0.05)
    with receiving(statuses=[500, 503, 200]) as receiver:
        created = endpoint(acme, receiver.url, events=["payment.credited"])
        pay_and_credit(acme, run_task)
        deliver_all(broker, run_task, wait=0.15)
        requests_seen = receiver.wait_for(3)
    assert [r.headers["Loyalty-Delivery-Attempt"] for r in requests_seen] == ["1", "2", "3"]
    assert len({r.headers["Loyalty-Event-Id"] for r in requests_seen}) == 1
    assert len({r.body for r in requests_seen}) == 1
    endpoint_id = created["endpoint"]["id"]
    log = acme.api("GET", f"/webhook-endpoints/{endpoint_id}/deliveries").get_json()
    [delivery] = log["items"]
    assert log["next_cursor"] is None
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3
    assert delivery["last_status_code"] == 200 and delivery["next_attempt_at"] is None
    detail = acme.api("GET", f"/webhook-endpoints/{endpoint_id}/deliveries/{delivery['id']}")
    assert [a["status_code"] for a in detail.get_json()["attempt_log"]] == [500, 503, 200]
    assert "HTTP 500" in detail.get_json()["attempt_log"][0]["error"]
    state = acme.api("GET", f"/webhook-endpoints/{endpoint_id}").get_json()
    assert state["state"] == "active" and state["failing_since"] is None


def test_a_failed_attempt_waits_with_backoff_before_the_next(acme, run_task, broker, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_BASE_SECONDS", 30)
    with receiving(statuses=[500]) as receiver:
        created = endpoint(acme, receiver.url, events=["payment.credited"])
        pay_and_credit(acme, run_task)
        deliver_all(broker, run_task)
        assert len(receiver.received) == 1
        [delivery] = acme.api("GET", f"/webhook-endpoints/{created['endpoint']['id']}/deliveries"
                              ).get_json()["items"]
    assert delivery["status"] == "pending" and delivery["last_status_code"] == 500
    assert delivery["next_attempt_at"] is not None
    assert run_task(TaskName.SWEEP_WEBHOOKS) == 0  # not due for ~30 s (24 to 36 with jitter)


def test_an_endpoint_failing_for_three_days_is_disabled_with_a_notice(
        acme, run_task, broker, db_session):
    with receiving(statuses=[500] * 5) as receiver:
        created = endpoint(acme, receiver.url, events=["payment.credited"])
        pay_and_credit(acme, run_task)
        db_session.execute(sa.text(
            "UPDATE webhook_deliveries SET created_at = now() - interval '73 hours'"))
        db_session.execute(sa.text(
            "UPDATE webhook_endpoints SET failing_since = now() - interval '73 hours'"))
        deliver_all(broker, run_task)
        assert len(receiver.received) == 1
    endpoint_id = created["endpoint"]["id"]
    state = acme.api("GET", f"/webhook-endpoints/{endpoint_id}").get_json()
    assert state["state"] == "disabled" and "72 hours" in state["disabled_reason"]
    [delivery] = acme.api("GET", f"/webhook-endpoints/{endpoint_id}/deliveries").get_json()["items"]
    assert delivery["status"] == "failed"
    replay = acme.api("POST", f"/webhook-endpoints/{endpoint_id}/deliveries/{delivery['id']}/replay")
    assert replay.status_code == 409 and replay.get_json()["error"]["code"] == "endpoint_disabled"
    enabled = acme.api("PATCH", f"/webhook-endpoints/{endpoint_id}", json={"state": "active"})
    assert enabled.get_json()["state"] == "active" and enabled.get_json()["disabled_reason"] is None


def test_a_delivery_is_replayed_with_the_same_event_id(acme, run_task, broker):
    with receiving() as receiver:
        created = endpoint(acme, receiver.url, events=["payment.credited"])
        pay_and_credit(acme, run_task)
        deliver_all(broker, run_task)
        endpoint_id = created["endpoint"]["id"]
        [delivery] = acme.api("GET", f"/webhook-endpoints/{endpoint_id}/deliveries").get_json()["items"]
        replayed = acme.api("POST",
                            f"/webhook-endpoints/{endpoint_id}/deliveries/{delivery['id']}/replay")
        assert replayed.status_code == 202 and replayed.get_json()["status"] == "pending"
        deliver_all(broker, run_task)
        first, again = receiver.wait_for(2)
    assert first.headers["Loyalty-Event-Id"] == again.headers["Loyalty-Event-Id"]
    assert first.body == again.body
    detail = acme.api("GET", f"/webhook-endpoints/{endpoint_id}/deliveries/{delivery['id']}").get_json()
    assert [a["trigger"] for a in detail["attempt_log"]] == ["auto", "replay"]
    assert detail["status"] == "delivered"


def test_rotating_the_secret_signs_with_both_until_the_old_one_expires(acme, run_task, broker):
    with receiving() as receiver:
        created = endpoint(acme, receiver.url, events=["payment.credited"])
        old = created["secret"]
        rotated = acme.api("POST", f"/webhook-endpoints/{created['endpoint']['id']}/rotate-secret",
                           json={"expire_previous_in_hours": 1})
        assert rotated.status_code == 200
        new = rotated.get_json()["secret"]
        assert new != old and rotated.get_json()["endpoint"]["previous_secret_expires_at"]
        pay_and_credit(acme, run_task)
        deliver_all(broker, run_task)
        [request] = receiver.received
    assert verify(new, request.headers["Loyalty-Signature"], request.body)
    assert verify(old, request.headers["Loyalty-Signature"], request.body)


def test_a_reversal_and_a_channel_status_change_are_events_too(acme, run_task, broker):
    with receiving() as receiver:
        endpoint(acme, receiver.url, events=["payment.reversed", "channel.status_changed"])
        pay_and_credit(acme, run_task)
        payment_id = acme.api("GET", "/transactions").get_json()["items"][0]["id"]
        reversed_ = acme.api("POST", f"/transactions/{payment_id}/mark-reversed", json={
            "reason": "customer care refund", "idempotency_key": "rev-1"})
        assert reversed_.status_code == 200, reversed_.get_json()
        assert acme.api("POST", f"/mpesa-channels/{acme.channel['id']}/deactivate").status_code == 200
        deliver_all(broker, run_task)
        events = {r.headers["Loyalty-Event-Type"]: json.loads(r.body) for r in receiver.received}
    assert set(events) == {"payment.reversed", "channel.status_changed"}
    reversal = events["payment.reversed"]["data"]
    assert reversal["points_taken_back"] == 100 and reversal["reversed_amount"] == "5000.00"
    change = events["channel.status_changed"]["data"]
    assert change["channel"]["is_active"] is False and change["previous"]["is_active"] is True


def test_an_endpoint_for_one_channel_hears_nothing_of_another(acme, run_task, broker, client, db_session):
    with receiving() as receiver:
        other = acme.api("POST", "/mpesa-channels", json={
            "name": "Second", "shortcode": "600100", "channel_type": "paybill",
            "consumer_key": "k2", "consumer_secret": "s2"}).get_json()
        endpoint(acme, receiver.url, events=["payment.received"], channel_id=other["id"])
        pay_and_credit(acme, run_task)
        deliver_all(broker, run_task)
        assert receiver.received == []


def test_test_event_is_signed_and_logged(acme, run_task, broker):
    with receiving() as receiver:
        created = endpoint(acme, receiver.url, events=["sms.delivery_failed"])
        sent = acme.api("POST", f"/webhook-endpoints/{created['endpoint']['id']}/test")
        assert sent.status_code == 202 and sent.get_json()["event_type"] == "webhook.test"
        deliver_all(broker, run_task)
        [request] = receiver.received
    assert verify(created["secret"], request.headers["Loyalty-Signature"], request.body)
    assert json.loads(request.body)["type"] == "webhook.test"


# --- the API's own rules ---------------------------------------------------------------------


@pytest.mark.parametrize("url, why", [
    ("http://pos.example.com/hook", "https://"),
    ("https://127.0.0.1/hook", "public internet address"),
    ("https://10.1.2.3/hook", "public internet address"),
    ("https://localhost:8443/hook", "public internet address"),
    ("https://[::1]/hook", "public internet address"),
    ("https://admin:pw@pos.example.com/hook", "user name and password"),
    ("https://pos.example.com/mpesa/hook", "mpesa"),
    ("ftp://pos.example.com/hook", "web address"),
])
def test_production_refuses_http_and_private_urls(acme, app, monkeypatch, url, why):
    monkeypatch.setitem(app.config, "APP_ENV", "production")
    response = acme.api("POST", "/webhook-endpoints", json={"url": url,
                                                            "events": ["payment.received"]})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert list(error["fields"]) == ["url"] and why in error["fields"]["url"][0]


def test_production_takes_a_public_https_url_and_development_a_loopback_one(acme, app, monkeypatch):
    assert endpoint(acme, "http://127.0.0.1:9/hook")["endpoint"]["state"] == "active"
    monkeypatch.setitem(app.config, "APP_ENV", "production")
    assert endpoint(acme, "https://pos.example.com/loyalty")["endpoint"]["url"] == \
        "https://pos.example.com/loyalty"


def test_bad_input_names_the_field(acme):
    unknown = acme.api("POST", "/webhook-endpoints", json={"url": "https://pos.example.com",
                                                           "events": ["payment.made"]})
    assert unknown.status_code == 422 and "events" in unknown.get_json()["error"]["fields"]
    none = acme.api("POST", "/webhook-endpoints", json={"url": "https://pos.example.com",
                                                        "events": []})
    assert none.status_code == 422 and "events" in none.get_json()["error"]["fields"]
    channel = acme.api("POST", "/webhook-endpoints", json={
        "url": "https://pos.example.com", "events": ["payment.received"], "channel_id": 999999})
    assert channel.status_code == 422 and "channel_id" in channel.get_json()["error"]["fields"]


def test_lists_are_pages_and_another_merchants_endpoint_is_not_found(acme, client, db_session):
    for n in range(3):
        endpoint(acme, f"http://127.0.0.1:9/hook/{n}")
    first = acme.api("GET", "/webhook-endpoints?limit=2").get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = acme.api("GET", f"/webhook-endpoints?limit=2&cursor={first['next_cursor']}").get_json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    endpoint_id = first["items"][0]["id"]
    other = make_shop(client, db_session, business_name="Other", shortcode="600200")
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/deliveries"),
                         ("POST", "/rotate-secret"), ("POST", "/test")):
        kwargs = {"json": {}} if method in ("PATCH", "POST") else {}
        response = other.api(method, f"/webhook-endpoints/{endpoint_id}{path}", **kwargs)
        assert response.status_code == 404, (method, path)
        assert response.get_json()["error"]["code"] == "not_found"
    assert acme.api("DELETE", f"/webhook-endpoints/{endpoint_id}").status_code == 204
    assert acme.api("GET", f"/webhook-endpoints/{endpoint_id}").status_code == 404


def test_every_operation_is_documented_with_the_error_body(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operations = [(path, method, op) for path, item in spec["paths"].items()
                  if path.startswith("/api/v1/webhook-endpoints") for method, op in item.items()
                  if method in ("get", "post", "patch", "delete")]
    assert len(operations) == 10
    for path, method, operation in operations:
        assert operation.get("summary") and operation.get("description"), (path, method)
        responses = operation["responses"]
        schema = responses["401"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/Error"), (path, method)  # the API's one error body
        assert "429" in responses, (path, method)
        if "{endpoint_id}" in path:
            assert "404" in responses, (path, method)


def test_registering_a_merchants_own_confirmation_url_is_refused_with_the_relay_instead(
        acme, db_session, broker):
    db_session.execute(sa.text("UPDATE mpesa_channels SET urls_state = 'none'"))
    own = "https://erp.example.com/payments/confirm"
    response = acme.api("POST", f"/mpesa-channels/{acme.channel['id']}/register-urls",
                        json={"confirmation_url": own})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "relay_with_webhook"
    why = error["fields"]["confirmation_url"][0]
    assert "one confirmation URL" in why and "/api/v1/webhook-endpoints" in why
    assert f'"channel_id": {acme.channel["id"]}' in why
    assert broker("daraja") == []
    # the platform's own URL is what registering without one does
    assert acme.api("POST", f"/mpesa-channels/{acme.channel['id']}/register-urls",
                    json={}).status_code == 202


def test_flask_webhooks_test_sends_a_signed_event_and_prints_the_answer(acme, app):
    with receiving(statuses=[200, 500]) as receiver:
        created = endpoint(acme, receiver.url)
        runner = app.test_cli_runner()
        ok = runner.invoke(args=["webhooks", "test", str(created["endpoint"]["id"])])
        assert ok.exit_code == 0, ok.output
        assert "delivered (HTTP 200)" in ok.output and "webhook.test" in ok.output
        failed = runner.invoke(args=["webhooks", "test", str(created["endpoint"]["id"])])
        assert failed.exit_code == 1 and "HTTP 500" in failed.output
        [first, _] = receiver.received
    assert verify(created["secret"], first.headers["Loyalty-Signature"], first.body)
    unknown = app.test_cli_runner().invoke(args=["webhooks", "test", "999999"])
    assert unknown.exit_code != 0 and "No webhook endpoint 999999" in unknown.output


def test_a_text_given_up_as_failed_is_an_event(acme, run_task, broker, gateway, db_session):
    from loyalty.services import messages
    from tests.integration.conftest import AT, JOHN

    with receiving() as receiver:
        gateway.add_passthru("http://127.0.0.1")  # the receiver is real; the SMS gateway mocked
        secret = endpoint(acme, receiver.url, events=["sms.delivery_failed"])["secret"]
        acme.api("POST", "/customers", json={"phone": JOHN})
        pay_and_credit(acme, run_task)
        message_id = db_session.execute(sa.text("SELECT id FROM sms_messages")).scalar()
        gateway.add(responses.POST, f"{AT}/version1/messaging", status=503, body="down")
        assert messages.send_batch([(acme.merchant_id, message_id)], final_attempt=True) == []
        deliver_all(broker, run_task)
        [request] = receiver.received
    assert verify(secret, request.headers["Loyalty-Signature"], request.body)
    message = json.loads(request.body)["data"]["message"]
    assert message["id"] == message_id and message["status"] == "failed"
    assert "unavailable" in message["error"] and message["purpose"]
