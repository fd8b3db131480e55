"""Stored secrets: ciphertext only, rotation with `flask keys rotate`, clear errors."""

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from loyalty import crypto
from loyalty.crypto import SecretDecryptionError
from loyalty.extensions import db
from loyalty.models import MpesaChannel
from loyalty.tenancy import all_merchants
from tests.conftest import TEST_ENCRYPTION_KEY, auth, make_test_app, register_merchant
from tests.integration.test_channels_api import PASSKEY, SECRET, paybill

NEW_KEY = crypto.generate_key()


def _seed(app):
    client = app.test_client()
    _, key = register_merchant(client)
    for shortcode in ("174379", "600000"):
        response = client.post("/api/v1/mpesa-channels", headers=auth(key), json=paybill(
            shortcode=shortcode, initiator_name="apiop", initiator_password="Initiator#pw1"))
        assert response.status_code == 201


def _raw_columns(app):
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT consumer_key, consumer_secret, passkey, "
                                    "initiator_password FROM mpesa_channels ORDER BY id")).all()


def test_rotation_re_encrypts_every_secret_and_the_old_key_can_go(scratch_database, redis_prefix):
    old_app = make_test_app(scratch_database, redis_prefix)
    with old_app.app_context():
        upgrade()
    _seed(old_app)
    before = _raw_columns(old_app)
    assert all(SECRET not in str(row) and PASSKEY not in str(row) for row in before)

    both = make_test_app(scratch_database, redis_prefix, ENCRYPTION_KEY=f"{NEW_KEY},{TEST_ENCRYPTION_KEY}")
    result = both.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 8 secret(s)" in result.output  # 2 channels x 4 secrets
    again = both.test_cli_runner().invoke(args=["keys", "rotate"])
    assert "Re-encrypted 0 secret(s)" in again.output
    assert _raw_columns(both) != before

    new_only = make_test_app(scratch_database, redis_prefix, ENCRYPTION_KEY=NEW_KEY)
    with new_only.app_context(), all_merchants():
        channels = db.session.scalars(sa.select(MpesaChannel).order_by(MpesaChannel.id)).all()
        assert [(c.consumer_secret, c.passkey, c.initiator_password) for c in channels] == [
            (SECRET, PASSKEY, "Initiator#pw1")] * 2


def test_wrong_key_names_the_column_and_never_the_secret(scratch_database, redis_prefix):
    app = make_test_app(scratch_database, redis_prefix)
    with app.app_context():
        upgrade()
    _seed(app)
    stranger = make_test_app(scratch_database, redis_prefix, ENCRYPTION_KEY=NEW_KEY)
    with stranger.app_context(), all_merchants():
        with pytest.raises(SecretDecryptionError) as caught:
            db.session.scalars(sa.select(MpesaChannel)).all()
    message = str(caught.value)
    assert "mpesa_channels.consumer_key" in message
    assert SECRET not in message and "ck-abcdefgh" not in message


def test_legacy_till_becomes_a_draft_channel_and_import_env_fills_it(scratch_database, redis_prefix,
                                                                     monkeypatch):
    app = make_test_app(scratch_database, redis_prefix)
    with app.app_context():
        upgrade(revision="0001")
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO merchants (business_name, owner_name, email, phone, business_type, "
                "password_hash, mpesa_till_number, is_active, created_at, updated_at) VALUES "
                "('Old Shop', 'Ann', 'ann@old.example', '254712345678', 'RETAIL', 'x', '556677', "
                "true, now(), now()), ('No Till', 'Bob', 'bob@old.example', '254712345679', "
                "'RETAIL', 'x', NULL, true, now(), now())"))
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT m.email, c.name, c.shortcode, c.channel_type, c.status, c.is_primary "
                "FROM mpesa_channels c JOIN merchants m ON m.id = c.merchant_id")).all()
            merchant_id = conn.execute(sa.text(
                "SELECT id FROM merchants WHERE email = 'ann@old.example'")).scalar()
    assert [tuple(r) for r in rows] == [
        ("ann@old.example", "Legacy Channel", "556677", "till", "draft", True)]

    monkeypatch.setenv("MPESA_CONSUMER_KEY", "legacy-key-1234")
    monkeypatch.setenv("MPESA_CONSUMER_SECRET", "legacy-secret-5678")
    result = app.test_cli_runner().invoke(args=["channels", "import-env", "--merchant", str(merchant_id)])
    assert result.exit_code == 0, result.output
    assert "now configured" in result.output and "Delete MPESA_CONSUMER_KEY" in result.output
    assert "legacy-secret-5678" not in result.output
    raw = _raw_columns(app)
    assert len(raw) == 1 and "legacy-secret-5678" not in str(raw[0])
    with app.app_context(), all_merchants():
        channel = db.session.scalars(sa.select(MpesaChannel)).one()
        assert (channel.consumer_key, channel.consumer_secret) == ("legacy-key-1234", "legacy-secret-5678")
