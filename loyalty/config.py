"""Settings from the environment, read when the app is built (never at import).

`load_config(environ, instance_path, overrides)` returns a plain dict that `create_app`
loads into `app.config`. Production refuses to start without its secrets; development
fills in safe local defaults so `make run` works on a fresh clone.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping

from loyalty.crypto import generate_key

log = logging.getLogger(__name__)

SAFARICOM_SANDBOX = "https://sandbox.safaricom.co.ke"
SAFARICOM_PRODUCTION = "https://api.safaricom.co.ke"
AT_SANDBOX = "https://api.sandbox.africastalking.com"
AT_PRODUCTION = "https://api.africastalking.com"

REQUIRED_IN_PRODUCTION = ("DATABASE_URL", "REDIS_URL", "ENCRYPTION_KEY", "SECRET_KEY")
APP_ENVS = ("development", "production", "testing")
CALLBACK_IP_POLICIES = ("off", "flag", "enforce")

# Safaricom's widely published callback source addresses (DARAJA.md section 12).
DEFAULT_CALLBACK_IPS = (
    "196.201.214.200,196.201.214.206,196.201.213.114,196.201.214.207,196.201.214.208,"
    "196.201.213.44,196.201.212.127,196.201.212.138,196.201.212.129,196.201.212.136,"
    "196.201.212.74,196.201.212.69,196.201.212.128,196.201.212.132"
)


class ConfigError(RuntimeError):
    """The environment cannot run the app; the message names what is missing."""


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() in {"1", "true", "yes", "on"}


def normalise_database_url(url: str) -> str:
    """Point postgres URLs at psycopg 3, the one driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _dev_secret(instance_path: Path, name: str, make, warning: str) -> str:
    """Read (or create once) a development secret kept under instance/."""
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    log.warning(warning, path)
    return value


def load_config(
    environ: Mapping[str, str] | None = None,
    instance_path: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the settings dict; raise ConfigError when production lacks a secret."""
    env = dict(os.environ if environ is None else environ)
    overrides = dict(overrides or {})
    # Overrides may carry environment-style names (tests pass DATABASE_URL etc.).
    for key in list(overrides):
        if key in _ENV_KEYS:
            env[key] = overrides.pop(key)
    app_env = env.get("APP_ENV", "development").strip().lower() or "development"
    if app_env not in APP_ENVS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(APP_ENVS)}, not {app_env!r}")
    production = app_env == "production"
    instance = Path(instance_path or Path.cwd() / "instance")

    if production:
        missing = [name for name in REQUIRED_IN_PRODUCTION if not env.get(name, "").strip()]
        if missing:
            raise ConfigError(
                "APP_ENV=production needs these environment variables: " + ", ".join(missing)
            )
        if _flag(env.get("DARAJA_EMULATOR")):
            raise ConfigError("DARAJA_EMULATOR=1 is refused when APP_ENV=production")

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'loyalty.sqlite3'}"
    encryption_key = env.get("ENCRYPTION_KEY") or _dev_secret(
        instance,
        "encryption.key",
        _new_fernet_key,
        "ENCRYPTION_KEY is not set: generated a development key in %s. "
        "Set ENCRYPTION_KEY in production and keep it safe.",
    )
    secret_key = env.get("SECRET_KEY") or _dev_secret(
        instance, "secret.key", lambda: os.urandom(32).hex(), "SECRET_KEY is not set: generated %s"
    )
    redis_url = env.get("REDIS_URL", "").strip() or None
    policy = env.get("CALLBACK_IP_POLICY", "off").strip().lower() or "off"
    if policy not in CALLBACK_IP_POLICIES:
        raise ConfigError(f"CALLBACK_IP_POLICY must be one of {', '.join(CALLBACK_IP_POLICIES)}")

    at_username = env.get("AT_USERNAME", "sandbox").strip() or "sandbox"
    config: dict[str, Any] = {
        "APP_ENV": app_env,
        "TESTING": app_env == "testing",
        "SECRET_KEY": secret_key,
        "ENCRYPTION_KEY": encryption_key,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        # Every Redis key the app writes starts with this (tests isolate runs with it).
        "REDIS_KEY_PREFIX": env.get("REDIS_KEY_PREFIX", "loyalty:"),
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        # Where Safaricom's callbacks go: the Procfile's `hooks` process, so API calls (a
        # `?wait`, a slow export) never hold the threads that answer Safaricom.
        "CALLBACK_BASE_URL": (env.get("CALLBACK_BASE_URL", "").strip()
                              or env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")).rstrip("/"),
        "DARAJA_SANDBOX_URL": env.get("DARAJA_SANDBOX_URL", SAFARICOM_SANDBOX).rstrip("/"),
        "DARAJA_PRODUCTION_URL": env.get("DARAJA_PRODUCTION_URL", SAFARICOM_PRODUCTION).rstrip("/"),
        "DARAJA_TIMEOUT": float(env.get("DARAJA_TIMEOUT", "10")),
        "DARAJA_EMULATOR": _flag(env.get("DARAJA_EMULATOR")),
        "SMS_BACKEND": env.get("SMS_BACKEND", "console"),
        "AT_USERNAME": at_username,
        "AT_API_KEY": env.get("AT_API_KEY", ""),
        "AT_SENDER_ID": env.get("AT_SENDER_ID", ""),
        # The sandbox account only works against the sandbox host.
        "AT_BASE_URL": env.get("AT_BASE_URL", AT_SANDBOX if at_username == "sandbox"
                               else AT_PRODUCTION).rstrip("/"),
        "CALLBACK_IP_POLICY": policy,
        "CALLBACK_IP_ALLOWLIST": [
            ip.strip()
            for ip in env.get("CALLBACK_IP_ALLOWLIST", DEFAULT_CALLBACK_IPS).split(",")
            if ip.strip()
        ],
        "HEALTH_CHECK_INTERVAL": int(env.get("HEALTH_CHECK_INTERVAL", "900")),
        "SWEEP_INTERVAL": float(env.get("SWEEP_INTERVAL", "15")),
        # Seconds between beat's sweeps of STK pushes (expiry after 24 h, lost follow-ups).
        "STK_SWEEP_INTERVAL": float(env.get("STK_SWEEP_INTERVAL", "300")),
        # How much lower the Celery worker's CPU priority is than the web tier's when they
        # share a machine (Linux; 0 leaves it alone): Safaricom's callbacks come first.
        "WORKER_NICE": int(env.get("WORKER_NICE", "5")),
        # SMS still queued after this many seconds (its task was lost) is sent again.
        "SMS_SWEEP_AGE": float(env.get("SMS_SWEEP_AGE", "120")),
        # A sender holds a message this long: more than one gateway call can take.
        "SMS_CLAIM_SECONDS": float(env.get("SMS_CLAIM_SECONDS", "60")),
        # Hours a rotated callback token keeps routing callbacks (while URLs re-register).
        "CALLBACK_TOKEN_GRACE_HOURS": float(env.get("CALLBACK_TOKEN_GRACE_HOURS", "72")),
        # How many proxies in front of gunicorn set X-Forwarded-For (0: none).
        "PROXY_FIX_X_FOR": int(env.get("PROXY_FIX_X_FOR", "0")),
        # Known channels each process keeps in its route cache (least recently used go).
        "ROUTE_CACHE_SIZE": int(env.get("ROUTE_CACHE_SIZE", "10000")),
        # Beat deletes callback_log rows older than this many days.
        "CALLBACK_LOG_RETENTION_DAYS": int(env.get("CALLBACK_LOG_RETENTION_DAYS", "90")),
        # Where a callback body goes when the database cannot take it, and how big that
        # folder may grow (MB) before bodies are only logged.
        "CALLBACK_SPOOL_DIR": env.get("CALLBACK_SPOOL_DIR", "").strip()
        or str(instance / "callback-spool"),
        "CALLBACK_SPOOL_MAX_MB": int(env.get("CALLBACK_SPOOL_MAX_MB", "256")),
        # Callback bodies are small; anything bigger is abuse (DESIGN.md section 4).
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "JSON_SORT_KEYS": False,
        "API_TITLE": "M-Pesa Loyalty API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "api/v1/openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "api/docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
        "API_SPEC_OPTIONS": {
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
            },
            "security": [{"bearer": []}],
        },
    }
    config["CELERY"] = celery_settings(redis_url, app_env, config["REDIS_KEY_PREFIX"])
    config.update(overrides)
    return config


def celery_settings(redis_url: str | None, app_env: str, key_prefix: str) -> dict[str, Any]:
    """Celery settings under app.config['CELERY'] (the Flask pattern)."""
    return {
        "broker_url": redis_url or "memory://",
        # Without Redis (development), tasks run in-process after the commit.
        "task_always_eager": redis_url is None,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
        # A callback must answer even when Redis is down: fail fast, the sweeper retries.
        # max_retries/interval_*: a publisher gives up at once instead of kombu's default
        # retry loop (seconds per request), so the callback path stays fast.
        "broker_transport_options": {"socket_connect_timeout": 1, "max_retries": 0,
                                     "interval_start": 0, "interval_step": 0.1,
                                     "interval_max": 0.2,
                                     # A dead worker's unacknowledged tasks come back after
                                     # this (kombu's default is an hour); longer than the SMS
                                     # retries' countdowns (up to 300 s). The STK follow-ups
                                     # wait longer (up to 6 h) and may arrive twice: each
                                     # carries its step and a repeat does nothing.
                                     "visibility_timeout": 1200,
                                     "global_keyprefix": key_prefix + "celery:"},
        "task_default_queue": "default",
        "timezone": "UTC",
        "enable_utc": True,
    }


def _new_fernet_key() -> str:
    return generate_key()  # crypto.py is the only module that touches cryptography


_ENV_KEYS = {
    "APP_ENV",
    "DATABASE_URL",
    "REDIS_URL",
    "ENCRYPTION_KEY",
    "SECRET_KEY",
    "PUBLIC_BASE_URL",
    "CALLBACK_BASE_URL",
    "DARAJA_SANDBOX_URL",
    "DARAJA_PRODUCTION_URL",
    "DARAJA_TIMEOUT",
    "DARAJA_EMULATOR",
    "SMS_BACKEND",
    "AT_USERNAME",
    "AT_API_KEY",
    "AT_SENDER_ID",
    "AT_BASE_URL",
    "CALLBACK_IP_POLICY",
    "CALLBACK_IP_ALLOWLIST",
    "HEALTH_CHECK_INTERVAL",
    "REDIS_KEY_PREFIX",
    "SWEEP_INTERVAL",
    "STK_SWEEP_INTERVAL",
    "WORKER_NICE",
    "SMS_SWEEP_AGE",
    "SMS_CLAIM_SECONDS",
    "PROXY_FIX_X_FOR",
    "CALLBACK_TOKEN_GRACE_HOURS",
    "ROUTE_CACHE_SIZE",
    "CALLBACK_LOG_RETENTION_DAYS",
    "CALLBACK_SPOOL_DIR",
    "CALLBACK_SPOOL_MAX_MB",
}
