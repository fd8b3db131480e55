"""Configuration is read when the app is built and production refuses to start half-configured."""

import logging
from pathlib import Path

import pytest

from loyalty.config import SETTINGS, ConfigError, load_config, with_settings_table


def test_production_names_every_missing_variable(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config({"APP_ENV": "production", "SECRET_KEY": "x"}, tmp_path)
    message = str(caught.value)
    for name in ("DATABASE_URL", "REDIS_URL", "ENCRYPTION_KEY", "PUBLIC_BASE_URL"):
        assert name in message
    assert "SECRET_KEY" not in message


def test_production_refuses_the_emulator(tmp_path):
    env = {"APP_ENV": "production", "DATABASE_URL": "postgresql://db/x", "REDIS_URL": "redis://r",
           "ENCRYPTION_KEY": "k", "SECRET_KEY": "s", "PUBLIC_BASE_URL": "https://loyalty.example",
           "DARAJA_EMULATOR": "1"}
    with pytest.raises(ConfigError, match="DARAJA_EMULATOR"):
        load_config(env, tmp_path)


def test_production_with_everything_set_starts(tmp_path):
    env = {"APP_ENV": "production", "DATABASE_URL": "postgres://u@db/x", "REDIS_URL": "redis://r:6379/0",
           "ENCRYPTION_KEY": "k", "SECRET_KEY": "s", "PUBLIC_BASE_URL": "https://loyalty.example"}
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


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_rows() -> dict[str, str]:
    """Variable -> Default as README.md's configuration table shows them."""
    rows = {}
    for line in README.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and cells[0].endswith("`"):
            rows[cells[0].strip("`")] = cells[1]
    return rows


def test_the_readme_lists_every_setting_with_its_default(tmp_path):
    readme = README.read_text()
    assert with_settings_table(readme) == readme, "README.md is stale: run `make readme`"
    rows = _readme_rows()
    assert set(rows) == {setting.name for setting in SETTINGS}
    # And each plain default shown is the value an unset variable really gets.
    loaded = load_config({}, tmp_path)
    for setting in SETTINGS:
        if isinstance(setting.default, str) and not setting.shown:
            shown = rows[setting.name]
            assert shown == (f"`{setting.default}`" if setting.default else "empty")
            assert setting.read(setting.default) == loaded[setting.config_key], setting.name


def test_tuning_settings_are_read_from_the_environment(tmp_path):
    config = load_config({"CREDIT_BATCH_SIZE": "50", "SMS_CHUNK_SIZE": "10", "NUDGE_WINDOW_MS": "100",
                          "ROUTE_CACHE_SECONDS": "2.5", "DARAJA_POOL_SIZE": "8"}, tmp_path)
    assert (config["CREDIT_BATCH_SIZE"], config["SMS_CHUNK_SIZE"], config["NUDGE_WINDOW_MS"],
            config["ROUTE_CACHE_SECONDS"], config["DARAJA_POOL_SIZE"]) == (50, 10, 100, 2.5, 8)


def test_a_value_of_the_wrong_kind_is_refused_at_start_with_its_name(tmp_path):
    with pytest.raises(ConfigError, match="DARAJA_TIMEOUT must be a number, not 'ten'"):
        load_config({"DARAJA_TIMEOUT": "ten"}, tmp_path)
    with pytest.raises(ConfigError, match="CREDIT_BATCH_SIZE must be at least 1"):
        load_config({"CREDIT_BATCH_SIZE": "0"}, tmp_path)
    with pytest.raises(ConfigError, match="SMS_BACKEND"):
        load_config({"SMS_BACKEND": "twilio"}, tmp_path)


def test_an_empty_variable_counts_as_unset(tmp_path):
    config = load_config({"APP_ENV": " ", "REDIS_URL": "", "REDIS_KEY_PREFIX": "", "SWEEP_INTERVAL": ""},
                         tmp_path)
    assert (config["APP_ENV"], config["REDIS_URL"]) == ("development", None)
    assert (config["REDIS_KEY_PREFIX"], config["SWEEP_INTERVAL"]) == ("loyalty:", 15.0)
    with pytest.raises(ConfigError, match="REDIS_URL"):
        load_config({"APP_ENV": "production", "DATABASE_URL": "postgresql://db/x", "REDIS_URL": "  ",
                     "ENCRYPTION_KEY": "k", "SECRET_KEY": "s"}, tmp_path)


def test_overrides_may_name_settings_as_text_or_typed(tmp_path):
    config = load_config({}, tmp_path, overrides={"DATABASE_URL": "postgres://u@db/x",
                                                  "DARAJA_EMULATOR": True, "WORKER_NICE": 0})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/x"
    assert config["DARAJA_EMULATOR"] is True and config["WORKER_NICE"] == 0


def test_abuse_settings_default_to_the_safe_side_and_refuse_nonsense(tmp_path):
    config = load_config({}, tmp_path)
    assert config["SANDBOX_SMS_POLICY"] == "restricted"
    assert (config["SMS_DAILY_QUOTA"], config["SMS_DAILY_QUOTA_SANDBOX"]) == (2000, 50)
    assert config["RATE_LIMIT_SIGNUP"] == "5 per hour"
    assert load_config({"RATE_LIMIT_API_KEY": " 100/minute "}, tmp_path)[
        "RATE_LIMIT_API_KEY"] == "100/minute"
    with pytest.raises(ConfigError, match="SANDBOX_SMS_POLICY"):
        load_config({"SANDBOX_SMS_POLICY": "anyone"}, tmp_path)
    with pytest.raises(ConfigError, match="RATE_LIMIT_LOGIN"):
        load_config({"RATE_LIMIT_LOGIN": "five a minute"}, tmp_path)


PRODUCTION = {"APP_ENV": "production", "DATABASE_URL": "postgres://u@db/x",
              "REDIS_URL": "redis://r:6379/0", "ENCRYPTION_KEY": "k", "SECRET_KEY": "s"}


def test_production_needs_the_public_address(tmp_path):
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        load_config(PRODUCTION, tmp_path)


@pytest.mark.parametrize("url", ["http://loyalty.example.com", "http://10.0.0.5:8000",
                                 "ftp://loyalty.example.com", "loyalty.example.com",
                                 "https://", "http://127.0.0.1.evil.example"])
def test_production_refuses_a_public_address_that_is_not_https(tmp_path, url):
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL must be an https:// address"):
        load_config({**PRODUCTION, "PUBLIC_BASE_URL": url}, tmp_path)


@pytest.mark.parametrize("url", ["https://loyalty.example.com", "http://127.0.0.1:8000",
                                 "http://127.8.9.10", "http://localhost:5000", "http://[::1]:80"])
def test_production_takes_https_or_this_machine_over_http(tmp_path, url):
    assert load_config({**PRODUCTION, "PUBLIC_BASE_URL": url}, tmp_path)["PUBLIC_BASE_URL"] == url


def test_production_holds_the_hooks_address_to_the_same_rule(tmp_path):
    env = {**PRODUCTION, "PUBLIC_BASE_URL": "https://loyalty.example.com"}
    with pytest.raises(ConfigError, match="CALLBACK_BASE_URL"):
        load_config({**env, "CALLBACK_BASE_URL": "http://hooks.loyalty.example.com"}, tmp_path)
    assert load_config({**env, "CALLBACK_BASE_URL": "https://hooks.loyalty.example.com"},
                       tmp_path)["CALLBACK_BASE_URL"] == "https://hooks.loyalty.example.com"


def test_development_may_serve_plain_http_anywhere(tmp_path):
    assert load_config({"PUBLIC_BASE_URL": "http://192.168.1.20:5000"}, tmp_path)[
        "PUBLIC_BASE_URL"] == "http://192.168.1.20:5000"
