"""Rotating a channel's callback token: a new one at once, URLs registered again, the old
one routed until its grace ends (also from the process's route cache)."""

import time
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from loyalty.background import TaskName
from loyalty.services.ingest import forget_routes
from tests.integration.conftest import c2b_body


def _register_own_urls(db_session, shop):
    own = shop.channel["callback_urls"]
    db_session.execute(sa.text(
        "UPDATE mpesa_channels SET validation_url = :v, confirmation_url = :c WHERE id = :id"),
        {"v": own["validation_url"], "c": own["confirmation_url"], "id": shop.channel["id"]})


def _stored(db_session, trans_id) -> bool:
    return db_session.execute(sa.text("SELECT count(*) FROM payments WHERE trans_id = :t"),
                              {"t": trans_id}).scalar() == 1


def test_rotation_registers_the_new_urls_and_honours_the_old_token_for_the_grace(
        acme, db_session, recorded_tasks):
    _register_own_urls(db_session, acme)
    old = acme.channel["callback_token"]
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="OLDTOKEN01")).status_code == 200

    rotated = acme.api("POST", f"/mpesa-channels/{acme.channel['id']}/rotate-callback-token")
    assert rotated.status_code == 202, rotated.get_json()
    body = rotated.get_json()
    new = db_session.execute(sa.text("SELECT callback_token FROM mpesa_channels WHERE id = :id"),
                             {"id": acme.channel["id"]}).scalar()
    assert new != old and f"/hooks/{new}/c2b/confirmation" in body["callback_urls"]["confirmation_url"]
    assert body["urls"]["state"] == "pending"
    assert body["urls"]["confirmation_url"] == body["callback_urls"]["confirmation_url"]
    assert body["urls"]["validation_url"] == body["callback_urls"]["validation_url"]
    grace = datetime.fromisoformat(body["callback_urls"]["previous_token_expires_at"])
    assert abs(grace - datetime.now(timezone.utc) - timedelta(hours=72)) < timedelta(minutes=1)
    assert recorded_tasks.args_of(TaskName.REGISTER_URLS) == [
        (acme.merchant_id, acme.channel["id"])]

    # Both tokens route while Safaricom's registration moves (the old one from the cache too).
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="OLDTOKEN02")).status_code == 200
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="NEWTOKEN01"), token=new).status_code == 200
    forget_routes()
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="OLDTOKEN03")).status_code == 200
    assert all(_stored(db_session, t) for t in ("OLDTOKEN02", "NEWTOKEN01", "OLDTOKEN03"))

    db_session.execute(sa.text("UPDATE mpesa_channels SET previous_token_expires_at = "
                               "now() - interval '1 second'"))
    forget_routes()
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="OLDTOKEN04"), token=old).status_code == 404
    assert not _stored(db_session, "OLDTOKEN04")
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="NEWTOKEN02"), token=new).status_code == 200
    assert acme.api("GET", f"/mpesa-channels/{acme.channel['id']}").get_json()[
        "callback_urls"]["previous_token_expires_at"] is None


def test_a_cached_old_token_stops_when_its_grace_ends(acme, db_session, recorded_tasks, app,
                                                      monkeypatch):
    monkeypatch.setitem(app.config, "CALLBACK_TOKEN_GRACE_HOURS", 1.5 / 3600)  # 1.5 s
    old = acme.channel["callback_token"]
    assert acme.api("POST", f"/mpesa-channels/{acme.channel['id']}/rotate-callback-token"
                    ).status_code == 200  # no URLs registered yet: nothing to register again
    assert recorded_tasks.args_of(TaskName.REGISTER_URLS) == []
    forget_routes()
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="CACHED0001"), token=old).status_code == 200
    time.sleep(1.6)  # the route cache (15 s) must not outlive the grace
    assert acme.hook("c2b/confirmation", c2b_body(trans_id="CACHED0002"), token=old).status_code == 404
    assert _stored(db_session, "CACHED0001") and not _stored(db_session, "CACHED0002")


def test_a_merchants_own_urls_stay_and_an_unverified_channel_is_not_registered(
        acme, db_session, recorded_tasks):
    own_relay = "https://relay.shop.example/payments/confirm"
    db_session.execute(sa.text(
        "UPDATE mpesa_channels SET validation_url = :v, confirmation_url = :c, "
        "verification_state = 'none', status = 'configured', is_active = false"),
        {"v": acme.channel["callback_urls"]["validation_url"], "c": own_relay})
    rotated = acme.api("POST", f"/mpesa-channels/{acme.channel['id']}/rotate-callback-token")
    assert rotated.status_code == 200
    urls = rotated.get_json()["urls"]
    assert urls["confirmation_url"] == own_relay
    assert urls["validation_url"] == rotated.get_json()["callback_urls"]["validation_url"]
    assert urls["state"] == "not_registered" and "verify the channel" in urls["error"]["message"]
    assert urls["error"]["code"] == "callback_token_changed"
    assert recorded_tasks.args_of(TaskName.REGISTER_URLS) == []


def test_another_merchants_channel_cannot_be_rotated(acme, client, db_session):
    from tests.integration.conftest import make_shop

    other = make_shop(client, db_session, business_name="Other Shop")
    refused = other.api("POST", f"/mpesa-channels/{acme.channel['id']}/rotate-callback-token")
    assert refused.status_code == 404
    assert db_session.execute(sa.text("SELECT callback_token FROM mpesa_channels WHERE id = :id"),
                              {"id": acme.channel["id"]}).scalar() == acme.channel["callback_token"]
