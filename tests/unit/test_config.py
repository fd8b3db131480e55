"""Configuration is read when the app is built and production refuses to start half-configured."""

import logging

import pytest

from loyalty.config import ConfigError, load_config


def test_production_names_every_missing_variable(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config({"APP_ENV": "production", "SECRET_KEY": "x"}, tmp_path)
    message = str(caught.value)
    for name in ("DATABASE_URL", "REDIS_URL", "ENCRYPTION_KEY"):
        assert name in message
    assert "SECRET_KEY" not in message


def test_production_refuses_the_emulator(tmp_path):
    env = {"APP_ENV": "production", "DATABASE_URL": "postgresql://db/x", "REDIS_URL": "redis://r",
           "ENCRYPTION_KEY": "k", "SECRET_KEY": "s", "DARAJA_EMULATOR": "1"}
    with pytest.raises(ConfigError, match="DARAJA_EMULATOR"):
        load_config(env, tmp_path)


def test_production_with_everything_set_starts(tmp_path):
    env = {"APP_ENV": "production", "DATABASE_URL": "postgres://u@db/x", "REDIS_URL": "redis://r:6379/0",
           "ENCRYPTION_KEY": "k", "SECRET_KEY": "s"}
    config = load_config(env, tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/x"
    assert config["CELERY"]["broker_url"] == "redis://r:6379/0"
    assert config["CELERY"]["task_always_eager"] is False
    assert not (tmp_path / "encryption.key").exists()


def test_development_defaults_work_on_a_fresh_clone(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        config = load_config({}, tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'loyalty.sqlite3'}"
    assert config["CELERY"]["task_always_eager"] is True
    key_file = tmp_path / "encryption.key"
    assert key_file.read_text().strip() == config["ENCRYPTION_KEY"]
    assert "ENCRYPTION_KEY is not set" in caplog.text
    assert config["ENCRYPTION_KEY"] not in caplog.text
    # The same key is reused on the next start, so stored secrets stay readable.
    assert load_config({}, tmp_path)["ENCRYPTION_KEY"] == config["ENCRYPTION_KEY"]


def test_settings_are_read_at_build_time_not_import(tmp_path, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://one.example/")
    assert load_config(None, tmp_path)["PUBLIC_BASE_URL"] == "https://one.example"
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://two.example")
    assert load_config(None, tmp_path)["PUBLIC_BASE_URL"] == "https://two.example"


def test_callback_urls_follow_the_public_address_unless_the_hooks_process_has_its_own(tmp_path):
    public = {"PUBLIC_BASE_URL": "https://loyalty.example/"}
    assert load_config(public, tmp_path)["CALLBACK_BASE_URL"] == "https://loyalty.example"
    config = load_config({**public, "CALLBACK_BASE_URL": "https://hooks.loyalty.example/"},
                         tmp_path)
    assert config["CALLBACK_BASE_URL"] == "https://hooks.loyalty.example"
    assert config["PUBLIC_BASE_URL"] == "https://loyalty.example"
    assert config["CALLBACK_TOKEN_GRACE_HOURS"] == 72
    assert load_config({"CALLBACK_TOKEN_GRACE_HOURS": "1.5"}, tmp_path)[
        "CALLBACK_TOKEN_GRACE_HOURS"] == 1.5


def test_bad_values_are_refused_with_the_variable_name(tmp_path):
    with pytest.raises(ConfigError, match="APP_ENV"):
        load_config({"APP_ENV": "staging"}, tmp_path)
    with pytest.raises(ConfigError, match="CALLBACK_IP_POLICY"):
        load_config({"CALLBACK_IP_POLICY": "maybe"}, tmp_path)
