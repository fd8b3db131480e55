"""API keys show when they were last used, written at most once a minute per key."""

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from loyalty.db import api_keys
from loyalty.models.base import utcnow
from loyalty.services import merchants
from tests.conftest import auth, register_merchant


@pytest.fixture
def key_writes(db_session) -> list[str]:
    """Every statement that wrote an API key's row during the test."""
    seen: list[str] = []
    connection = db_session.connection()

    def record(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            seen.append(statement)

    event.listen(connection, "before_cursor_execute", record)
    yield seen
    event.remove(connection, "before_cursor_execute", record)


def _keys(client, key) -> dict:
    return {k["prefix"]: k for k in client.get("/api/v1/api-keys", headers=auth(key)).get_json()["items"]}


def test_last_used_at_is_written_at_most_once_a_minute(client, key_writes, monkeypatch):
    _, key = register_merchant(client)
    for _ in range(5):
        assert client.get("/api/v1/merchants/me", headers=auth(key)).status_code == 200
    assert len(key_writes) == 1  # the first call, not every call
    first = datetime.fromisoformat(_keys(client, key)[key[:10]]["last_used_at"])
    assert abs(utcnow() - first) < timedelta(seconds=30)

    almost = utcnow() + timedelta(seconds=50)
    monkeypatch.setattr(merchants, "utcnow", lambda: almost)
    client.get("/api/v1/merchants/me", headers=auth(key))
    assert len(key_writes) == 1

    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr(merchants, "utcnow", lambda: later)
    client.get("/api/v1/merchants/me", headers=auth(key))
    client.get("/api/v1/merchants/me", headers=auth(key))
    assert len(key_writes) == 2
    assert datetime.fromisoformat(_keys(client, key)[key[:10]]["last_used_at"]) == later


def test_an_unused_key_shows_none_and_another_keys_use_is_its_own(client):
    _, key = register_merchant(client)
    spare = client.post("/api/v1/api-keys", headers=auth(key), json={"name": "spare"}).get_json()
    listed = _keys(client, key)
    assert listed[spare["prefix"]]["last_used_at"] is None
    assert listed[key[:10]]["last_used_at"] is not None


def test_two_processes_that_saw_the_old_time_write_it_once(client, db_session):
    _, key = register_merchant(client)
    client.get("/api/v1/merchants/me", headers=auth(key))
    db_session.execute(sa.text("UPDATE api_keys SET last_used_at = :t"),
                       {"t": utcnow() - timedelta(minutes=5)})
    # Both read the old time before either writes: the conditional UPDATE changes it once.
    key_id, merchant_id = db_session.execute(sa.text("SELECT id, merchant_id FROM api_keys")).one()
    now = utcnow()
    params = {"t_id": key_id, "t_merchant": merchant_id, "t_now": now,
              "t_stale": now - merchants.LAST_USED_EVERY}
    changed = [api_keys.TOUCH.execute(db_session.connection(), params).rowcount
               for _ in range(2)]
    assert changed == [1, 0]
