"""Each callback process holds every channel's route (services/route_table.py): a channel it
never saw is answered without a read, the table is never staler than ROUTE_CACHE_SECONDS,
a rotated-out token stops at its grace, and past ROUTE_TABLE_MAX (or on a failed read) the
per-token lookups answer as before.

The table is read here in the test (`ingest.load_route_table`), as the background thread
of a real process reads it; the thread itself runs in the end-to-end stack."""

import logging
import time

import pytest
import sqlalchemy as sa

from loyalty.db.channels import ROUTE_BUCKET
from loyalty.services import ingest, route_table
from loyalty.tenancy import all_merchants
from tests.integration.conftest import c2b_body, make_shop


@pytest.fixture
def table_on(app, monkeypatch):
    """The table on, its background reads recorded instead of started; `lookups` lists
    the per-token reads that reached the database."""
    monkeypatch.setitem(app.config, "ROUTE_TABLE_MAX", 100)
    started, lookups = [], []
    monkeypatch.setattr(route_table, "load_in_background", lambda load: started.append(load))
    real = ingest.execute_alone

    def counting(statement, params, **kwargs):
        if statement.name == "channels.route":
            lookups.append(params["token"])
        return real(statement, params, **kwargs)

    monkeypatch.setattr(ingest, "execute_alone", counting)
    ingest.forget_routes()
    yield started, lookups
    ingest.forget_routes()


@pytest.fixture
def shops(acme, client, db_session):
    return [acme] + [make_shop(client, db_session, business_name=f"Shop {n}",
                               shortcode=f"60000{n}") for n in (1, 2)]


def _shortcode(shop, acme) -> str:
    return "174379" if shop is acme else shop.channel["shortcode"]


def _stored(db_session) -> list[str]:
    return db_session.execute(sa.text("SELECT trans_id FROM payments ORDER BY trans_id")
                              ).scalars().all()


def test_channels_this_process_never_saw_are_answered_from_the_table(
        app, acme, shops, table_on, db_session):
    started, lookups = table_on
    ingest.load_route_table(app)
    assert len(ingest.table) == 3
    for n, shop in enumerate(shops):
        response = shop.hook("c2b/confirmation", c2b_body(shortcode=_shortcode(shop, acme),
                                                          trans_id=f"TABLE{n:05d}"))
        assert response.status_code == 200, response.get_json()
    assert _stored(db_session) == ["TABLE00000", "TABLE00001", "TABLE00002"]
    assert lookups == [] and started == []  # no read per token, the table still fresh
    # A stranger is still a stranger: looked up, refused, nothing kept.
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="STRANGER1"),
                     token="f" * 32).status_code == 404
    assert lookups == ["f" * 32]


def test_the_table_is_read_again_before_it_is_stale_and_not_used_after(
        app, acme, table_on, db_session, monkeypatch):
    started, lookups = table_on
    t0 = route_table.monotonic()
    ingest.load_route_table(app, started=t0)
    seconds = app.config["ROUTE_CACHE_SECONDS"]

    monkeypatch.setattr(route_table, "monotonic", lambda: t0 + seconds * 0.8)
    for n in range(2):  # due: one read started, the fresh table still answers
        assert acme.hook("c2b/confirmation", c2b_body(trans_id=f"DUE{n:07d}")).status_code == 200
    assert len(started) == 1 and lookups == []

    monkeypatch.setattr(route_table, "monotonic", lambda: t0 + seconds + 0.1)
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="STALE00001")).status_code == 200
    assert lookups == [acme.channel["callback_token"]]  # stale: the per-token read answers
    assert len(started) == 1  # the read under way is not started twice

    started[0]()  # that read ends (on its thread in a real process): the table is fresh again
    assert len(ingest.table) == 1
    monkeypatch.setattr(route_table, "monotonic", lambda: t0 + seconds + 0.2)
    ingest.routes.clear()
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="FRESH00001")).status_code == 200
    assert len(lookups) == 1


@pytest.fixture
def reads(monkeypatch):
    """The channel rows each refresh read (the digests are read every time)."""
    read: list[int] = []
    real = route_table.execute_alone

    def counting(statement, params, **kwargs):
        found = real(statement, params, **kwargs)
        if statement.name == "channels.routes":
            read.append(len(found))
        return found

    monkeypatch.setattr(route_table, "execute_alone", counting)
    return read


def test_a_refresh_reads_again_only_the_channels_whose_bucket_changed(
        app, acme, client, db_session, table_on, reads):
    # The next channel in another bucket of channel ids (db.channels.ROUTE_BUCKET).
    db_session.execute(sa.text("SELECT setval('mpesa_channels_id_seq', :next)"),
                       {"next": (acme.channel["id"] // ROUTE_BUCKET + 1) * ROUTE_BUCKET})
    far = make_shop(client, db_session, business_name="Far", shortcode="600005")
    ingest.load_route_table(app)
    assert reads == [2] and len(ingest.table) == 2
    ingest.load_route_table(app)
    assert reads == [2]  # nothing changed: no channel read again
    acme.api("PATCH", f"/mpesa-channels/{acme.channel['id']}",
             json={"validation_policy": "reject_unknown", "account_mapping": {"VIP*": "vip"}})
    ingest.load_route_table(app)
    assert reads == [2, 1] and len(ingest.table) == 2  # acme's bucket only
    assert acme.hook("c2b/validation", c2b_body(bill_ref="GOLD1")).get_json()[
        "ResultCode"] == "C2B00012"
    assert far.hook("c2b/confirmation", c2b_body(shortcode="600005", trans_id="FAR0000001"),
                    ).status_code == 200
    assert table_on[1] == []  # both answered from the table


def test_a_channel_change_reaches_the_table_within_route_cache_seconds(
        app, acme, table_on, db_session, monkeypatch):
    _, lookups = table_on

    def validate():
        return acme.hook("c2b/validation", c2b_body(bill_ref="GOLD1")).get_json()["ResultCode"]

    t0 = route_table.monotonic()
    ingest.load_route_table(app, started=t0)
    acme.api("PATCH", f"/mpesa-channels/{acme.channel['id']}",
             json={"validation_policy": "reject_unknown", "account_mapping": {"VIP*": "vip"}})
    assert validate() == "0"  # the table read before the change, still fresh
    monkeypatch.setattr(route_table, "monotonic", lambda: t0 + 1)
    ingest.load_route_table(app, started=t0 + 1)  # the next read sees the change
    assert validate() == "C2B00012" and lookups == []


def test_archived_and_new_channels(app, acme, client, table_on, db_session):
    _, lookups = table_on
    newer = make_shop(client, db_session, business_name="Newer", shortcode="600009")
    with all_merchants():
        db_session.execute(sa.text("UPDATE mpesa_channels SET archived_at = now() WHERE id = :id"),
                           {"id": acme.channel["id"]})
    ingest.load_route_table(app)
    assert len(ingest.table) == 1  # an archived channel is not routed
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="ARCHIVED01")).status_code == 404
    added = newer.api("POST", "/mpesa-channels", json={
        "name": "Second till", "shortcode": "600010", "store_number": "600010",
        "channel_type": "buygoods", "consumer_key": "demo-consumer-key",
        "consumer_secret": "demo-consumer-secret"})
    assert added.status_code == 201, added.get_json()
    with all_merchants():
        token = db_session.execute(sa.text(
            "SELECT callback_token FROM mpesa_channels WHERE id = :id"),
            {"id": added.get_json()["id"]}).scalar()
    assert newer.hook("c2b/confirmation", c2b_body(shortcode="600010", trans_id="NEWCHAN001"),
                      token=token).status_code == 200  # added since the read: looked up
    assert lookups == [acme.channel["callback_token"], token]
    assert _stored(db_session) == ["NEWCHAN001"]


def test_a_rotated_out_token_routes_from_the_table_until_its_grace_ends(
        app, acme, table_on, db_session, recorded_tasks, monkeypatch):
    _, lookups = table_on
    monkeypatch.setitem(app.config, "CALLBACK_TOKEN_GRACE_HOURS", 1.5 / 3600)  # 1.5 s
    old = acme.channel["callback_token"]
    assert acme.api("POST", f"/mpesa-channels/{acme.channel['id']}/rotate-callback-token"
                    ).status_code == 200
    ingest.load_route_table(app)
    assert len(ingest.table) == 2  # the new token and the old one in its grace
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="GRACE00001"), token=old).status_code == 200
    assert lookups == []
    time.sleep(1.6)  # the table (15 s) must not outlive the grace
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="GRACE00002"), token=old).status_code == 404
    assert lookups == [old]
    assert _stored(db_session) == ["GRACE00001"]


def test_past_route_table_max_each_token_is_looked_up(app, acme, shops, table_on, db_session,
                                                      monkeypatch):
    started, lookups = table_on
    monkeypatch.setitem(app.config, "ROUTE_TABLE_MAX", 2)
    t0 = route_table.monotonic()
    ingest.load_route_table(app, started=t0)
    assert len(ingest.table) == 0
    for n, shop in enumerate(shops):
        assert shop.hook("c2b/confirmation", c2b_body(shortcode=_shortcode(shop, acme),
                                                      trans_id=f"MANY{n:06d}")).status_code == 200
    assert len(lookups) == 3 and len(_stored(db_session)) == 3
    # It is not read again at every callback: only after a while, to see if it still holds.
    monkeypatch.setattr(route_table, "monotonic",
                        lambda: t0 + route_table.TOO_MANY_RECHECK_SECONDS + 1)
    ingest.routes.clear()
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="MANY000009")).status_code == 200
    assert started == [started[0]] and len(lookups) == 4


def test_a_failed_read_leaves_the_lookups_answering(app, acme, table_on, db_session,
                                                     monkeypatch, caplog):
    _, lookups = table_on
    real = route_table.execute_alone

    def failing(statement, params, **kwargs):
        if statement.name.startswith("channels.route"):
            raise sa.exc.OperationalError("SELECT", {}, Exception("password=hunter2 refused"))
        return real(statement, params, **kwargs)

    monkeypatch.setattr(route_table, "execute_alone", failing)
    with caplog.at_level(logging.WARNING, logger="loyalty.services.ingest"):
        ingest.load_route_table(app)
    assert len(ingest.table) == 0
    assert "OperationalError" in caplog.text and "hunter2" not in caplog.text
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="FAILED0001")).status_code == 200
    assert _stored(db_session) == ["FAILED0001"]
