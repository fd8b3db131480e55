"""Hostile callers on /hooks: strangers store nothing, refused sources keep 4 KiB, bodies out
of Safaricom's shape are 400 and kept, database failures never lose a body."""

import json
import logging
import secrets

import psycopg
import pytest
import sqlalchemy as sa

from loyalty.hooks import strangers
from loyalty.services import callback_log, ingest
from tests.integration.conftest import c2b_body, make_shop


def _log(db_session):
    return db_session.execute(sa.text(
        "SELECT kind, status_code, error, body, channel_id, outcome, body_bytes "
        "FROM callback_log ORDER BY id")).all()


def _count(db_session, table):
    return db_session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def test_two_hundred_60kb_posts_to_random_tokens_leave_the_database_and_cache_as_they_were(
        acme, client, db_session):
    acme.hook("c2b/confirmation", c2b_body(trans_id="KNOWN00001"))  # one known channel cached
    before = (_count(db_session, "callback_log"), _count(db_session, "payments"),
              len(ingest.routes), strangers.count())
    filler = {"pad": "x" * 60_000}
    paths = ("c2b/confirmation", "c2b/validation", "stk", "result/balance")
    for n in range(200):
        response = client.post(f"/hooks/{secrets.token_hex(16)}/{paths[n % 4]}",
                               data=json.dumps({**c2b_body(), **filler}),
                               content_type="application/json")
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    after = (_count(db_session, "callback_log"), _count(db_session, "payments"),
             len(ingest.routes), strangers.count())
    assert after[:3] == before[:3]
    assert after[3] == before[3] + 200  # counted, nothing else


def test_a_stranger_gets_one_short_log_line_and_a_flood_is_not_logged_line_by_line(
        client, db_session, caplog, monkeypatch):
    monkeypatch.setattr(strangers, "_state", {"count": 0, "window": 0.0, "logged": 0,
                                              "unlogged": 0})  # a fresh minute
    token = secrets.token_hex(16)
    with caplog.at_level(logging.WARNING, logger="loyalty.hooks.strangers"):
        for _ in range(strangers.LOG_LINES_PER_MINUTE + 5):
            client.post(f"/hooks/{token}/c2b/confirmation", data="{}" + " " * 5000,
                        content_type="application/json")
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == strangers.LOG_LINES_PER_MINUTE
    assert strangers.count() == strangers.LOG_LINES_PER_MINUTE + 5
    assert token not in caplog.text and f"…{token[-4:]}" in lines[0]
    assert all(len(line) < 300 for line in lines)


def test_odd_tokens_are_strangers_without_asking_the_database(client, db_session):
    for token in ("%00", "a" * 65, "caf%C3%A9", "x'--"):
        response = client.post(f"/hooks/{token}/c2b/confirmation", json=c2b_body())
        assert response.status_code == 404, token
    assert _log(db_session) == []


def test_the_route_cache_is_bounded_and_keeps_the_recently_used(acme, app, client, db_session,
                                                                monkeypatch):
    monkeypatch.setitem(app.config, "ROUTE_CACHE_SIZE", 2)
    shops = [acme] + [make_shop(client, db_session, business_name=f"Shop {n}",
                                shortcode=f"60000{n}") for n in (1, 2)]
    ingest.forget_routes()
    for n, shop in enumerate(shops):
        shortcode = "174379" if shop is acme else f"60000{n}"
        assert shop.hook("c2b/confirmation", c2b_body(shortcode=shortcode,
                                                      trans_id=f"LRU{n:07d}")).status_code == 200
    assert len(ingest.routes) == 2
    assert ingest.cached_route(acme.channel["callback_token"]) is None  # least recently used
    assert ingest.cached_route(shops[2].channel["callback_token"]) is not None
    # An evicted channel is looked up again, not refused.
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="LRU0000009")).status_code == 200


@pytest.fixture
def enforced(app):
    app.config["CALLBACK_IP_POLICY"] = "enforce"
    app.config["CALLBACK_IP_ALLOWLIST"] = ["196.201.214.200"]
    yield
    app.config["CALLBACK_IP_POLICY"] = "off"


def test_a_refused_source_keeps_at_most_4_kib_marked_refused_ip(acme, db_session, enforced):
    body = json.dumps({**c2b_body(), "pad": "y" * 50_000})
    response = acme.hook("c2b/confirmation", body)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "source_not_allowed"
    (row,) = _log(db_session)
    assert row.outcome == "refused_ip" and row.status_code == 403
    assert len(row.body.encode()) == 4096 and row.body_bytes == len(body)
    assert row.channel_id == acme.channel["id"]
    assert _count(db_session, "payments") == 0


def test_a_refused_source_cannot_tell_known_tokens_from_made_up_ones(acme, db_session, enforced):
    made_up = acme.hook("c2b/confirmation", c2b_body(), token=secrets.token_hex(16))
    known = acme.hook("c2b/confirmation", c2b_body())
    assert made_up.status_code == known.status_code == 403
    assert made_up.get_json() == known.get_json()
    assert [row.outcome for row in _log(db_session)] == ["refused_ip"]  # the stranger: nothing


@pytest.mark.parametrize("changes, field", [
    ({"TransID": "R" * 21}, "TransID"),
    ({"TransID": "RKT-QDM7W6"}, "TransID"),
    ({"TransAmount": "1E+20"}, "TransAmount"),
    ({"TransAmount": 1e20}, "TransAmount"),
    ({"TransAmount": "1000000.01"}, "TransAmount"),
    ({"TransAmount": "0"}, "TransAmount"),
    ({"TransAmount": "-5.00"}, "TransAmount"),
    ({"TransAmount": "10.001"}, "TransAmount"),
    ({"TransAmount": "NaN"}, "TransAmount"),
    ({"BillRefNumber": "B" * 21}, "BillRefNumber"),
    ({"FirstName": "N" * 101}, "FirstName"),
    ({"LastName": "bad\u0000name"}, "LastName"),
    ({"MiddleName": "\udbde"}, "MiddleName"),
    ({"BusinessShortCode": "17437x"}, "BusinessShortCode"),
])
def test_a_field_out_of_shape_is_400_naming_it_and_kept_never_500(acme, db_session, changes,
                                                                   field):
    acme.hook("c2b/confirmation", c2b_body(trans_id="WARMFAST01"))  # cached: the fast path first
    body = json.dumps({**c2b_body(trans_id="ODD0000001"), **changes})
    response = acme.hook("c2b/confirmation", body)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["message"]
    (row,) = _log(db_session)
    assert row.outcome == "rejected" and field in row.error
    assert row.body == body
    assert _count(db_session, "payments") == 1  # the warm-up only


def test_a_long_trans_id_and_1e20_give_400_on_validation_and_stk_too(acme, db_session):
    assert acme.hook("c2b/validation", c2b_body(trans_id="X" * 40)).status_code == 400
    stk = {"Body": {"stkCallback": {
        "MerchantRequestID": "m-1", "CheckoutRequestID": "ws_CO_9", "ResultCode": 0,
        "ResultDesc": "ok", "CallbackMetadata": {"Item": [
            {"Name": "Amount", "Value": "1E+20"}, {"Name": "MpesaReceiptNumber", "Value": "R1"},
            {"Name": "PhoneNumber", "Value": 254712345678}]}}}}
    response = acme.hook("stk", stk)
    assert response.status_code == 400 and "Amount" in response.get_json()["error"]["message"]
    assert [row.outcome for row in _log(db_session)] == ["rejected", "rejected"]


def test_json_that_postgresql_cannot_hold_is_400_and_kept(acme, db_session):
    for raw in (b'{"TransID": NaN}', b"[" * 5000, b'{"x": 1e400}', b'{"\\u0000": 1}'):
        response = acme.hook("c2b/confirmation", raw)
        assert response.status_code == 400, raw
    assert [row.outcome for row in _log(db_session)] == ["rejected"] * 4


def test_a_raw_nul_byte_in_the_body_is_kept_visible(acme, db_session):
    response = acme.hook("c2b/confirmation", b'{"TransID": "A\x00B"}')
    assert response.status_code == 400
    assert _log(db_session)[0].body == '{"TransID": "A\\u0000B"}'


def _failing_insert(monkeypatch, error):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(ingest, "insert_ignore_alone", fail)


def test_a_database_failure_is_503_with_the_body_in_the_callback_log(acme, db_session,
                                                                     monkeypatch):
    _failing_insert(monkeypatch, psycopg.OperationalError("server closed the connection"))
    body = json.dumps(c2b_body(trans_id="DBDOWN0001"))
    response = acme.hook("c2b/confirmation", body)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "service_unavailable"
    (row,) = _log(db_session)
    assert (row.outcome, row.status_code, row.body) == ("store_failed", 503, body)


def test_a_value_the_database_refuses_is_400_and_kept(acme, db_session, monkeypatch):
    _failing_insert(monkeypatch, psycopg.DataError("value out of range"))
    response = acme.hook("c2b/confirmation", c2b_body(trans_id="DATAERR001"))
    assert response.status_code == 400
    assert _log(db_session)[0].outcome == "store_failed"


def test_with_the_database_down_the_body_is_spooled_and_replayed_later(
        acme, app, db_session, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "CALLBACK_SPOOL_DIR", str(tmp_path))
    body = json.dumps(c2b_body(trans_id="SPOOLED001"))
    with monkeypatch.context() as down:
        _failing_insert(down, psycopg.OperationalError("connection refused"))

        def log_down(*args, **kwargs):
            raise sa.exc.OperationalError("INSERT INTO callback_log", {}, Exception("refused"))

        down.setattr(callback_log, "keep", log_down)
        response = acme.hook("c2b/confirmation", body)
    assert response.status_code == 503
    (spool_file,) = tmp_path.glob("callbacks-*.jsonl")
    assert oct(spool_file.stat().st_mode & 0o777) == "0o600"
    entry = json.loads(spool_file.read_text())
    assert entry["body"] == body and entry["kind"] == "c2b_confirmation"
    assert _log(db_session) == [] and _count(db_session, "payments") == 0

    result = app.test_cli_runner().invoke(args=["callbacks", "replay-spool"])
    assert result.exit_code == 0, result.output
    assert "1 stored" in result.output
    assert db_session.execute(sa.text("SELECT trans_id FROM payments")).scalars().all() == [
        "SPOOLED001"]
    assert not list(tmp_path.glob("*.jsonl"))


def test_a_full_spool_still_leaves_the_body_in_the_error_log(acme, app, monkeypatch, tmp_path,
                                                             caplog):
    monkeypatch.setitem(app.config, "CALLBACK_SPOOL_DIR", str(tmp_path))
    monkeypatch.setitem(app.config, "CALLBACK_SPOOL_MAX_MB", 0)
    _failing_insert(monkeypatch, psycopg.OperationalError("connection refused"))
    monkeypatch.setattr(callback_log, "keep", lambda *a, **k: (_ for _ in ()).throw(
        sa.exc.OperationalError("INSERT", {}, Exception("refused"))))
    with caplog.at_level(logging.ERROR):
        response = acme.hook("c2b/confirmation", c2b_body(trans_id="LOGLINE001"))
    assert response.status_code == 503
    assert not list(tmp_path.glob("*.jsonl"))
    assert "LOGLINE001" in caplog.text


def test_beat_deletes_callback_log_rows_past_retention(acme, app, db_session, monkeypatch):
    import tasks  # noqa: F401  (registers the tasks, as the worker does)

    # The task as this app's worker runs it (Celery's eager apply).
    purge_callback_log = app.extensions["celery"].tasks["callback_log.purge"]
    for _ in range(3):
        acme.hook("c2b/confirmation", b"{not json")
    db_session.execute(sa.text(
        "UPDATE callback_log SET received_at = now() - interval '91 days' WHERE id IN "
        "(SELECT id FROM callback_log ORDER BY id LIMIT 2)"))
    assert purge_callback_log.apply().get() == 2
    assert _count(db_session, "callback_log") == 1
    monkeypatch.setitem(app.config, "CALLBACK_LOG_RETENTION_DAYS", 0)
    assert purge_callback_log.apply().get() == 1
    assert _count(db_session, "callback_log") == 0


def test_the_retention_job_is_on_beats_schedule(app):
    from tasks.schedule import beat_schedule

    entry = beat_schedule(app.config)["purge-callback-log"]
    assert entry["task"] == "callback_log.purge"
