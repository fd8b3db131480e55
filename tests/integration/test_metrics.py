"""`/metrics`: the operator's numbers, behind METRICS_TOKEN, added up over processes.

The counting runs in prometheus-client's multiprocess mode, as under gunicorn and Celery:
values in files under a tmp folder per process group, read back by the scrape."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import responses
from prometheus_client import values
from prometheus_client.parser import text_string_to_metric_families

from loyalty import metrics
from loyalty.services import crediting, messages
from tests.integration.conftest import AT, JOHN, SENT, c2b_body

TOKEN = "metrics-token-0123456789abcdef"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def multiprocess(app, tmp_path, monkeypatch):
    """This process counts into tmp/web as a gunicorn worker would; /metrics reads tmp."""
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    monkeypatch.setitem(app.config, "METRICS_DIR", str(tmp_path))
    (tmp_path / "web").mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "web"))
    _forget_values()
    values.ValueClass = values.MultiProcessValue()
    yield tmp_path
    _forget_values()
    values.ValueClass = values.MutexValue


def _forget_values():
    # Labelled metrics make each value when a label set is first counted, with the value
    # class of that moment.
    for metric in metrics.ALL:
        if metric._labelnames:
            with metric._lock:
                metric._metrics.clear()


def scrape(client, **headers):
    return client.get("/metrics", headers=headers)


def samples(client):
    response = scrape(client, Authorization=f"Bearer {TOKEN}")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name, **labels):
    return found.get((name, tuple(sorted(labels.items()))), 0)


def test_metrics_are_off_without_a_token_and_refused_without_the_right_one(app, client,
                                                                          monkeypatch, caplog):
    assert app.config["METRICS_TOKEN"] == ""
    off = scrape(client, Authorization=f"Bearer {TOKEN}")
    assert off.status_code == 404 and off.get_json()["error"]["code"] == "not_found"
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                    {"Authorization": f"Basic {TOKEN}"}):
        refused = scrape(client, **headers)
        assert refused.status_code == 401, headers
        assert refused.get_json()["error"]["code"] == "unauthorized"
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert TOKEN not in refused.get_data(as_text=True)
    allowed = scrape(client, Authorization=f"Bearer {TOKEN}")
    assert allowed.status_code == 200
    assert "loyalty_crediting_backlog" in allowed.get_data(as_text=True)
    assert TOKEN not in caplog.text


def test_counters_move_when_a_payment_is_credited_and_its_text_sent(acme, client, db_session,
                                                                    gateway, multiprocess):
    acme.api("POST", "/customers", json={"phone": JOHN, "first_name": "John"})
    acme.hook("c2b/confirmation", c2b_body())
    acme.hook("c2b/confirmation", c2b_body())  # a duplicate: answered, not stored again
    waiting = samples(client)
    assert value(waiting, "loyalty_callbacks_total", kind="c2b_confirmation",
                 outcome="accepted", process="web") == 2
    assert value(waiting, "loyalty_payments_stored_total", source="c2b", process="web") == 1
    assert value(waiting, "loyalty_crediting_backlog") == 1

    crediting.credit_waiting()
    credited = samples(client)
    assert value(credited, "loyalty_payments_credited_total", outcome="credited",
                 process="web") == 1
    assert value(credited, "loyalty_crediting_lag_seconds_count", outcome="credited",
                 process="web") == 1
    assert value(credited, "loyalty_crediting_backlog") == 0
    assert value(credited, "loyalty_sms_backlog") == 1

    gateway.add(responses.POST, f"{AT}/version1/messaging", json=SENT, status=201)
    assert messages.send_batch([(acme.merchant_id, _message_id(db_session))]) == []
    sent = samples(client)
    assert value(sent, "loyalty_sms_total", status="sent", code="101", process="web") == 1
    assert value(sent, "loyalty_sms_gateway_seconds_count", account="platform",
                 process="web") == 1
    assert value(sent, "loyalty_sms_backlog") == 0
    assert value(sent, "loyalty_sms_account_paused", account="platform") == 0


def test_every_process_of_a_group_is_added_up_and_groups_kept_apart(client, multiprocess):
    metrics.PAYMENTS_CREDITED.labels(outcome="credited").inc(2)  # this process: web
    (multiprocess / "worker").mkdir()
    count = ("from loyalty import metrics; "
             "metrics.PAYMENTS_CREDITED.labels(outcome='credited').inc(3)")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiprocess / "worker")}
    for _ in range(2):  # two worker processes, each with its own file
        subprocess.run([sys.executable, "-c", count], cwd=REPO, env=env, check=True)
    found = samples(client)
    assert value(found, "loyalty_payments_credited_total", outcome="credited",
                 process="worker") == 6
    assert value(found, "loyalty_payments_credited_total", outcome="credited",
                 process="web") == 2


def _message_id(db_session):
    import sqlalchemy as sa

    return db_session.execute(sa.text("SELECT id FROM sms_messages")).scalar_one()
