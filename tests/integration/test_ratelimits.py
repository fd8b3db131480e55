"""Rate limits (loyalty/ratelimits.py) on real Redis: 429 with the error body and
Retry-After, counted per address, key, channel or phone, never on /hooks or /healthz."""

import pytest
import sqlalchemy as sa

from loyalty import ratelimits
from tests.conftest import auth, make_test_app, register_merchant
from tests.integration.conftest import c2b_body

PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"


# Tasks the limited steps queue are recorded, not sent to a worker.
pytestmark = pytest.mark.usefixtures("recorded_tasks")


def _sign_up(client, n, address, **kwargs):
    return client.post("/api/v1/merchants", environ_base={"REMOTE_ADDR": address}, json={
        "business_name": f"Shop {n}", "owner_name": "Owner", "phone": "0712345678",
        "email": f"shop-{n}-{address}@example.com", "business_type": "RETAIL",
        "password": "a long password"}, **kwargs)


def _assert_429(response, within):
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "too_many_requests"
    assert response.get_json()["error"]["message"].startswith("Too many")
    assert 0 < int(response.headers["Retry-After"]) <= within
    return response.get_json()["error"]["message"]


def test_the_sixth_sign_up_from_one_address_in_an_hour_is_429(app, client):
    for n in range(5):
        assert _sign_up(client, n, "198.51.100.7").status_code == 201
    message = _assert_429(_sign_up(client, 5, "198.51.100.7"), within=3600)
    assert "sign-ups from this address" in message and "minutes" in message
    assert _sign_up(client, 6, "198.51.100.8").status_code == 201  # another address
    # The count is in Redis, under the app's prefix, shared by every gunicorn worker.
    keys = [k.decode() for k in app.extensions["redis"].scan_iter(
        match=app.config["REDIS_KEY_PREFIX"] + "rate-limits:*")]
    assert any("198.51.100.7/signup" in key for key in keys)


def test_the_web_sign_up_shares_the_count_and_answers_with_a_page(client):
    for n in range(5):
        assert _sign_up(client, n, "198.51.100.9").status_code == 201
    page = client.post("/signup", environ_base={"REMOTE_ADDR": "198.51.100.9"}, data={
        "business_name": "Late", "owner_name": "Late", "email": "late@example.com",
        "phone": "0712345678", "business_type": "RETAIL", "password": "a long password",
        "confirm": "a long password"})
    assert page.status_code == 429 and page.mimetype == "text/html"
    assert "Too many sign-ups from this address" in page.get_data(as_text=True)
    assert int(page.headers["Retry-After"]) > 0
    assert client.get("/signup", environ_base={"REMOTE_ADDR": "198.51.100.9"}).status_code == 200


def test_every_api_key_has_its_own_budget(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RATE_LIMIT_API_KEY", "3 per minute")
    _, key = register_merchant(client)
    _, other = register_merchant(client)
    for header in (f"Bearer {key}", f"bearer  {key}", f"BEARER {key} "):  # one key, any spelling
        assert client.get("/api/v1/merchants/me",
                          headers={"Authorization": header}).status_code == 200
    _assert_429(client.get("/api/v1/programs", headers=auth(key)), within=60)
    assert client.get("/api/v1/merchants/me", headers=auth(other)).status_code == 200


def _shop(client, db_session):
    _, key = register_merchant(client)
    channel = client.post("/api/v1/mpesa-channels", headers=auth(key), json={
        "name": "Main", "shortcode": "174379", "channel_type": "paybill",
        "consumer_key": "key", "consumer_secret": "secret", "passkey": PASSKEY}).get_json()
    db_session.execute(sa.text("UPDATE mpesa_channels SET status = 'active', is_active = true, "
                               "verification_state = 'done' WHERE id = :id"), {"id": channel["id"]})
    return key, channel


def _push(client, key, channel, phone):
    return client.post(f"/api/v1/mpesa-channels/{channel['id']}/stk-push", headers=auth(key),
                       json={"phone": phone, "amount": "10"})


def test_stk_push_is_limited_per_phone(client, db_session):
    key, channel = _shop(client, db_session)
    for _ in range(5):
        assert _push(client, key, channel, "0712345678").status_code == 202
    # The same phone written another way is the same phone.
    message = _assert_429(_push(client, key, channel, "+254 712 345 678"), within=60)
    assert "to this phone" in message
    assert _push(client, key, channel, "0722000111").status_code == 202


def test_stk_push_is_limited_per_channel(app, client, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "RATE_LIMIT_STK_CHANNEL", "3 per minute")
    key, channel = _shop(client, db_session)
    for n in range(3):
        assert _push(client, key, channel, f"072200011{n}").status_code == 202
    assert "on this channel" in _assert_429(_push(client, key, channel, "0722000119"),
                                            within=60)
    # Another channel of the same merchant has its own budget.
    second = client.post("/api/v1/mpesa-channels", headers=auth(key), json={
        "name": "Second", "shortcode": "600100", "channel_type": "paybill",
        "consumer_key": "key", "consumer_secret": "secret", "passkey": PASSKEY}).get_json()
    assert _push(client, key, second, "0722000119").status_code == 202


def test_channel_steps_are_limited_per_channel_and_per_tenant(client, db_session):
    key, channel = _shop(client, db_session)
    intruder, _ = _shop(client, db_session)
    for _ in range(3):  # another tenant's tries at this channel are 404s, never its budget
        assert client.post(f"/api/v1/mpesa-channels/{channel['id']}/verify",
                           headers=auth(intruder)).status_code == 404
    for _ in range(10):
        assert client.post(f"/api/v1/mpesa-channels/{channel['id']}/verify",
                           headers=auth(key)).status_code == 202
    _assert_429(client.post(f"/api/v1/mpesa-channels/{channel['id']}/verify",
                            headers=auth(key)), within=60)
    # Registering URLs counts on its own, and so does rotating the callback token (each
    # answered as the channel's state says: pending verification, so 409 not_verified).
    assert client.post(f"/api/v1/mpesa-channels/{channel['id']}/register-urls",
                       headers=auth(key), json={}).status_code != 429
    for _ in range(10):
        assert client.post(f"/api/v1/mpesa-channels/{channel['id']}/rotate-callback-token",
                           headers=auth(key)).status_code != 429
    _assert_429(client.post(f"/api/v1/mpesa-channels/{channel['id']}/rotate-callback-token",
                            headers=auth(key)), within=60)
    # Reconciliation runs (refused here: Pull is not registered) count on their own too.
    for _ in range(10):
        assert client.post(f"/api/v1/mpesa-channels/{channel['id']}/reconcile",
                           headers=auth(key), json={}).status_code != 429
    _assert_429(client.post(f"/api/v1/mpesa-channels/{channel['id']}/reconcile",
                            headers=auth(key), json={}), within=60)


def test_mpesa_reversal_requests_are_limited_per_payment(client, db_session):
    key, _ = _shop(client, db_session)
    body = {"reason": "Refund", "idempotency_key": "rl-1"}
    for _ in range(10):  # no such payment: a 404, counted all the same
        assert client.post("/api/v1/transactions/999999/reverse", headers=auth(key),
                           json=body).status_code == 404
    assert "reversal" in _assert_429(client.post("/api/v1/transactions/999999/reverse",
                                                 headers=auth(key), json=body), within=60)
    # Another payment has its own budget; recording a reversal done elsewhere is not limited.
    assert client.post("/api/v1/transactions/999998/reverse", headers=auth(key),
                       json=body).status_code == 404
    assert client.post("/api/v1/transactions/999999/mark-reversed", headers=auth(key),
                       json=body).status_code == 404


def test_callbacks_and_the_health_probe_are_never_limited(app, client, db_session,
                                                          monkeypatch):
    for name in ("RATE_LIMIT_API_KEY", "RATE_LIMIT_SIGNUP"):
        monkeypatch.setitem(app.config, name, "1 per hour")
    _, channel = _shop(client, db_session)
    token = db_session.execute(sa.text("SELECT callback_token FROM mpesa_channels WHERE id = :i"),
                               {"i": channel["id"]}).scalar()
    for n in range(15):
        assert client.post(f"/hooks/{token}/c2b/confirmation",
                           json=c2b_body(trans_id=f"HOOK{n:06d}")).status_code == 200
        assert client.post(f"/hooks/{token}/c2b/validation", json=c2b_body()).status_code == 200
        assert client.get("/healthz").status_code in (200, 503)
    keys = [k.decode() for k in app.extensions["redis"].scan_iter(
        match=app.config["REDIS_KEY_PREFIX"] + "rate-limits:*")]
    assert not any("hooks" in key or "health" in key for key in keys)


def test_the_openapi_document_lists_the_429s(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "Retry-After" in spec["components"]["responses"]["TooManyRequests"]["headers"]
    ref = {"$ref": "#/components/responses/TooManyRequests"}
    for path, method in [("/api/v1/merchants", "post"),  # public, limited per address
                         ("/api/v1/merchants/me", "get"),  # every keyed call: per key
                         ("/api/v1/mpesa-channels/{channel_id}/stk-push", "post"),
                         ("/api/v1/mpesa-channels/{channel_id}/verify", "post"),
                         ("/api/v1/mpesa-channels/{channel_id}/reconcile", "post"),
                         ("/api/v1/mpesa-channels/{channel_id}/pull/register", "post"),
                         ("/api/v1/transactions/{payment_id}/reverse", "post")]:
        assert spec["paths"][path][method]["responses"]["429"] == ref, (path, method)


def test_limits_hold_in_memory_while_redis_is_down(database_url, redis_prefix):
    app = make_test_app(database_url, redis_prefix, REDIS_URL="redis://127.0.0.1:1/0")
    client = app.test_client()
    address = {"REMOTE_ADDR": "203.0.113.5"}
    # Refused sign-ups count too (and store nothing): no 500 from the limiter, and the
    # limit still holds, in this process's memory.
    for _ in range(5):
        assert client.post("/api/v1/merchants", json={}, environ_base=address).status_code == 422
    _assert_429(client.post("/api/v1/merchants", json={}, environ_base=address), within=3600)


def test_make_run_counts_in_memory(database_url, redis_prefix):
    app = make_test_app(database_url, redis_prefix, REDIS_URL="")
    state = app.extensions[ratelimits.EXTENSION]
    assert type(state.storage).__name__ == "MemoryStorage"
