"""Settings from the environment, read when the app is built (never at import).

`SETTINGS` is the one table of every environment variable the app reads: its type, its
default, its rule in production and the line that explains it. It drives `load_config`
(which returns the dict `create_app` loads into `app.config`), the production check, and
README.md's configuration table (`make readme` writes it; a test fails when it is stale).
Production refuses to start without its secrets; development fills in safe local defaults
so `make run` works on a fresh clone.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from limits import parse_many

from loyalty.crypto import generate_key
from loyalty.sms import BACKENDS as SMS_BACKENDS

log = logging.getLogger(__name__)

SAFARICOM_SANDBOX = "https://sandbox.safaricom.co.ke"
SAFARICOM_PRODUCTION = "https://api.safaricom.co.ke"
AT_SANDBOX = "https://api.sandbox.africastalking.com"
AT_PRODUCTION = "https://api.africastalking.com"

APP_ENVS = ("development", "production", "testing")
CALLBACK_IP_POLICIES = ("off", "flag", "enforce")
SANDBOX_SMS_POLICIES = ("restricted", "open")

# Safaricom's widely published callback source addresses (DARAJA.md section 12).
DEFAULT_CALLBACK_IPS = (
    "196.201.214.200,196.201.214.206,196.201.213.114,196.201.214.207,196.201.214.208,"
    "196.201.213.44,196.201.212.127,196.201.212.138,196.201.212.129,196.201.212.136,"
    "196.201.212.74,196.201.212.69,196.201.212.128,196.201.212.132"
)

REQUIRED = "required"  # production refuses to start without it
REFUSED = "refused"    # production refuses to start with it on
# A public address: production refuses a plain http:// one unless its host is this
# machine's loopback (a production-mode run on one box). Over plain HTTP the session
# cookies (Secure in production) are never sent back, and callbacks and their tokens
# would cross the network in clear.
HTTPS = "`https://` (or loopback)"
REQUIRED_HTTPS = "required, `https://` (or loopback)"


class ConfigError(RuntimeError):
    """The environment cannot run the app; the message names what is missing."""


# --- value types: each reads the environment's text, or raises ValueError with a reason ----


def text(value: str) -> str:
    return value.strip()


def url(value: str) -> str:
    return value.strip().rstrip("/")


def flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def one_of(*choices: str) -> Callable[[str], str]:
    def read(value: str) -> str:
        value = value.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    return read


def integer(minimum: int | None = None) -> Callable[[str], int]:
    return _number(int, "a whole number", minimum)


def number(minimum: float | None = None) -> Callable[[str], float]:
    return _number(float, "a number", minimum)


def _number(kind, noun: str, minimum):
    def read(value: str):
        try:
            parsed = kind(value.strip())
        except ValueError:
            raise ValueError(f"must be {noun}, not {value!r}") from None
        if minimum is not None and parsed < minimum:
            raise ValueError(f"must be at least {minimum}, not {parsed}")
        return parsed

    return read


def rate(value: str) -> str:
    """A rate limit as Flask-Limiter reads it: `5 per hour`, `600/minute`."""
    value = value.strip()
    try:
        parse_many(value)
    except ValueError:
        raise ValueError(f"must be a rate such as '5 per hour', not {value!r}") from None
    return value


def token(value: str) -> str:
    value = value.strip()
    if value and len(value) < 16:
        raise ValueError("must be at least 16 characters (or unset)")
    return value


def comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def normalise_database_url(url: str) -> str:
    """Point postgres URLs at psycopg 3, the one driver we ship."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One environment variable. `default` is written as it would be in the environment
    (and read by `read`); a callable default is worked out from the settings above it and
    the instance folder, and `shown` says what it is in the README."""

    name: str
    read: Callable[[str], Any]
    default: str | Callable[[dict, Path], Any] | None
    doc: str
    production: str = ""
    shown: str = ""
    key: str = ""  # the app.config key, when it is not `name`

    @property
    def config_key(self) -> str:
        return self.key or self.name

    def shown_default(self) -> str:
        if self.shown:
            return self.shown
        if self.default is None:
            return "unset"
        return f"`{self.default}`" if self.default else "empty"


def _sqlite_file(values: dict, instance: Path) -> str:
    return f"sqlite:///{instance / 'loyalty.sqlite3'}"


def _encryption_key(values: dict, instance: Path) -> str:
    # crypto.py is the only module that touches cryptography.
    return _dev_secret(instance, "encryption.key", generate_key,
                       "ENCRYPTION_KEY is not set: generated a development key in %s. "
                       "Set ENCRYPTION_KEY in production and keep it safe.")


def _secret_key(values: dict, instance: Path) -> str:
    return _dev_secret(instance, "secret.key", lambda: os.urandom(32).hex(),
                       "SECRET_KEY is not set: generated %s")


def _public_base_url(values: dict, instance: Path) -> str:
    return values["PUBLIC_BASE_URL"]


def _spool_folder(values: dict, instance: Path) -> str:
    return str(instance / "callback-spool")


def _at_host(values: dict, instance: Path) -> str:
    # The sandbox account only works against the sandbox host.
    return AT_SANDBOX if values["AT_USERNAME"] == "sandbox" else AT_PRODUCTION


SETTINGS: tuple[Setting, ...] = (
    Setting("APP_ENV", one_of(*APP_ENVS), "development",
            "`development`, `production` or `testing`"),
    Setting("DATABASE_URL", normalise_database_url, _sqlite_file,
            "PostgreSQL in production (`postgresql://…`, driven by psycopg 3)",
            production=REQUIRED, shown="`sqlite:///instance/loyalty.sqlite3`",
            key="SQLALCHEMY_DATABASE_URI"),
    Setting("REDIS_URL", text, None, "Celery broker and the Daraja token cache",
            production=REQUIRED, shown="unset: tasks run in-process"),
    # Every Redis key the app writes starts with this (tests isolate runs with it).
    Setting("REDIS_KEY_PREFIX", text, "loyalty:", "prefix of every Redis key the app writes"),
    Setting("ENCRYPTION_KEY", text, _encryption_key,
            "one or more Fernet keys, comma-separated; the first encrypts",
            production=REQUIRED,
            shown="generated into `instance/encryption.key` (development)"),
    Setting("SECRET_KEY", text, _secret_key, "Flask sessions and CSRF", production=REQUIRED,
            shown="generated into `instance/secret.key` (development)"),
    Setting("PUBLIC_BASE_URL", url, "http://127.0.0.1:5000", "the platform's public address",
            production=REQUIRED_HTTPS),
    # Where Safaricom's callbacks go: the Procfile's `hooks` process, so API calls (a
    # `?wait`, a slow export) never hold the threads that answer Safaricom.
    Setting("CALLBACK_BASE_URL", url, _public_base_url,
            "public address of the `hooks` process: callback URLs given to Safaricom are "
            "built from it", shown="`PUBLIC_BASE_URL`", production=HTTPS),
    Setting("CALLBACK_TOKEN_GRACE_HOURS", number(minimum=0), "72",
            "hours a rotated callback token keeps routing callbacks (while the URLs are "
            "registered again)"),
    Setting("DARAJA_SANDBOX_URL", url, SAFARICOM_SANDBOX,
            "Safaricom's sandbox; point it at the emulator for local runs"),
    Setting("DARAJA_PRODUCTION_URL", url, SAFARICOM_PRODUCTION, "Safaricom's production host"),
    Setting("DARAJA_TIMEOUT", number(minimum=0.1), "10", "seconds for every Daraja call"),
    Setting("DARAJA_POOL_SIZE", integer(minimum=1), "20",
            "HTTP connections kept per Daraja host per process (gunicorn threads, worker pool)"),
    Setting("DARAJA_EMULATOR", flag, "0",
            "`1` mounts the local Daraja and SMS emulator (`/_emulator/`; `make run` sets it)",
            production=REFUSED),
    Setting("TASKS_IN_THREAD", flag, "0",
            "without `REDIS_URL`: `1` runs the tasks a web page starts (verify, register URLs) "
            "in a background thread, so the page answers at once and shows live progress "
            "(`make run` sets it)", production=REFUSED),
    Setting("SMS_BACKEND", one_of(*SMS_BACKENDS), "console", "`console` or `africastalking`"),
    Setting("AT_USERNAME", text, "sandbox", "Africa's Talking username"),
    Setting("AT_API_KEY", text, "", "Africa's Talking API key"),
    Setting("AT_SENDER_ID", text, "", "Africa's Talking sender ID (alphanumeric or shortcode)"),
    Setting("AT_BASE_URL", url, _at_host, "Africa's Talking API host",
            shown="the sandbox host for `AT_USERNAME=sandbox`, else the production one"),
    Setting("SMS_CALLBACK_TOKEN", text, "",
            "path secret of Africa's Talking's callbacks (`/hooks/sms/<token>/delivery`, "
            "`…/inbound`, `…/optout`); unset: they are refused (404)",
            shown="unset: SMS callbacks refused"),
    Setting("SMS_SHORTCODE", text, "",
            "the platform's two-way shortcode where customers text STOP; promotional texts "
            "name it in their opt-out line (unset: Safaricom's `*456*9*5#` menu)",
            shown="unset"),
    Setting("CALLBACK_IP_POLICY", one_of(*CALLBACK_IP_POLICIES), "off",
            "`off`, `flag` or `enforce` the Safaricom source-IP allow-list"),
    Setting("CALLBACK_IP_ALLOWLIST", comma_list, DEFAULT_CALLBACK_IPS,
            "comma-separated source addresses of Safaricom's callbacks",
            shown="Safaricom's published list"),
    Setting("DB_ROW_SECURITY", flag, "0",
            "`1`: each statement's connection carries its tenant for PostgreSQL's row-level "
            "security, the opt-in second line of tenancy (on every process first, then "
            "`flask row-security on`; see Security)"),
    Setting("PROXY_FIX_X_FOR", integer(minimum=0), "0",
            "how many proxies in front of gunicorn set X-Forwarded-For (`0`: none; see "
            "Behind a proxy)"),
    Setting("ROUTE_TABLE_MAX", integer(minimum=0), "50000",
            "up to this many channels, each callback process holds every channel's route, "
            "refreshed in the background before it is ROUTE_CACHE_SECONDS old (only what "
            "changed is read again); past it, or `0`, each token is looked up and cached "
            "on its own"),
    Setting("ROUTE_CACHE_SIZE", integer(minimum=1), "10000",
            "known channels each web process keeps in its callback route cache (least "
            "recently used go first)"),
    Setting("ROUTE_CACHE_SECONDS", number(minimum=0), "15",
            "how long each process caches a callback token's channel (changes to a channel "
            "reach the callback path within this)"),
    Setting("NUDGE_WINDOW_MS", integer(minimum=1), "250",
            "at most one crediting nudge per this many milliseconds (a Redis `SET NX` key)"),
    Setting("CREDIT_BATCH_SIZE", integer(minimum=1), "200",
            "payments a worker credits per batch, in one transaction"),
    Setting("SWEEP_INTERVAL", number(minimum=0.1), "15",
            "seconds between beat's sweeps for payments whose nudge was lost (texts: twice this)"),
    Setting("STK_SWEEP_INTERVAL", number(minimum=1), "300",
            "seconds between beat's sweeps of STK pushes: a push still pending 24 h after it "
            "was sent is `expired`, and a follow-up whose countdown was lost is queued again"),
    Setting("SMS_CHUNK_SIZE", integer(minimum=1), "50",
            "texts a sender claims with one statement and records per flush"),
    Setting("SMS_SWEEP_AGE", number(minimum=0), "120",
            "seconds after which a text still queued (its task was lost) is sent again"),
    Setting("SMS_CLAIM_SECONDS", number(minimum=0.1), "60",
            "how long a sender holds the texts it claimed: more than one gateway call can take"),
    Setting("SMS_CONCURRENCY", integer(minimum=1), "32",
            "SMS gateway calls each worker process makes at once (and HTTP connections it "
            "keeps to the gateway)"),
    Setting("SMS_PAUSE_SECONDS", number(minimum=1), "900",
            "how long an SMS account that ran out of credit stays paused before sending is "
            "tried again (`flask sms resume` ends it sooner)"),
    # Operators' numbers (api/metrics.py, docs/OPERATIONS.md).
    Setting("METRICS_TOKEN", token, "",
            "bearer token `GET /metrics` requires (at least 16 characters); unset: "
            "`/metrics` is off (404)"),
    Setting("METRICS_DIR", text, "",
            "folder for the metrics of every process on this machine, one subfolder per "
            "process group (`python -m loyalty.metrics_dir` in the Procfile); unset: each "
            "process reports only its own"),
    Setting("CALLBACK_LOG_RETENTION_DAYS", integer(minimum=0), "90",
            "beat deletes `callback_log` rows older than this"),
    Setting("CALLBACK_SPOOL_DIR", text, _spool_folder,
            "where a callback body is appended (fsynced) when the database cannot store it; "
            "`flask callbacks replay-spool` feeds it back", shown="`instance/callback-spool`"),
    Setting("CALLBACK_SPOOL_MAX_MB", integer(minimum=0), "256",
            "the spool's limit; beyond it a body goes into the error log line only"),
    Setting("HEALTH_CHECK_INTERVAL", integer(minimum=1), "900",
            "seconds between channel health checks"),
    Setting("RECONCILE_INTERVAL", number(minimum=1), "21600",
            "seconds between Pull Transactions reconciliations of every active channel "
            "registered for Pull, each over the last 24 hours (windows overlap, so a failed "
            "run is covered by the next)"),
    # Async requests nobody will answer (async_results.give_up_unanswered): a worker that
    # died between its claim and Safaricom's acknowledgement, or a result that never came.
    Setting("ASYNC_UNANSWERED_HOURS", number(minimum=0.01), "6",
            "an async request (reversal, balance check, transaction status) with no "
            "acknowledgement from Safaricom this long after it was sent is given up: a "
            "reversal fails with what to check on the M-PESA statement"),
    Setting("ASYNC_NO_RESULT_HOURS", number(minimum=0.01), "24",
            "an async request Safaricom acknowledged but sent neither a result nor a timeout "
            "for this long is given up the same way"),
    Setting("ASYNC_SWEEP_INTERVAL", number(minimum=1), "900",
            "seconds between beat's sweeps for async requests given up as unanswered"),
    Setting("WORKER_NICE", integer(minimum=0), "5",
            "how much lower the worker's CPU priority is than the web tier's on a shared "
            "machine (Linux; `0`: off)"),
    # No SMS relay (services/sms_allowance.py): forged sandbox payments must not buy free
    # texts to strangers, and a sign-up with a sandbox channel is not yet a proven business.
    Setting("SANDBOX_SMS_POLICY", one_of(*SANDBOX_SMS_POLICIES), "restricted",
            "`restricted`: a sandbox channel's payments are texted only to the merchant's own "
            "phone and SMS test numbers; `open`: to whoever pays (`make run` sets it)"),
    Setting("SMS_DAILY_QUOTA", integer(minimum=0), "2000",
            "texts per merchant per Nairobi day once one of its production channels is active"),
    Setting("SMS_DAILY_QUOTA_SANDBOX", integer(minimum=0), "50",
            "texts per merchant per Nairobi day until then"),
    # Webhooks to the merchant's own systems (services/webhooks/, docs/WEBHOOKS.md).
    Setting("WEBHOOK_TIMEOUT", number(minimum=0.1), "10",
            "seconds a merchant's webhook endpoint has to answer a delivery"),
    Setting("WEBHOOK_RETRY_BASE_SECONDS", number(minimum=0.01), "30",
            "first retry of a failed webhook delivery after about this long, doubling each "
            "time (at most 6 hours apart, with jitter)"),
    Setting("WEBHOOK_RETRY_HOURS", number(minimum=0.001), "72",
            "a webhook delivery is retried this long after its event, then `failed`; an "
            "endpoint with no success for this long is disabled"),
    Setting("WEBHOOK_SWEEP_INTERVAL", number(minimum=0.1), "60",
            "seconds between beat's sweeps for webhook retries that are due"),
    # Rate limits (loyalty/ratelimits.py), as Flask-Limiter reads them.
    Setting("RATE_LIMIT_SIGNUP", rate, "5 per hour",
            "sign-ups per client address (`POST /merchants` and the web sign-up together)"),
    Setting("RATE_LIMIT_LOGIN", rate, "5 per 15 minutes",
            "failed log-ins per (email, client address); a successful log-in clears them"),
    Setting("RATE_LIMIT_LOGIN_ACCOUNT", rate, "20 per hour",
            "failed log-ins per account, from any address"),
    Setting("RATE_LIMIT_API_KEY", rate, "600 per minute", "API calls per API key"),
    Setting("RATE_LIMIT_STK_PHONE", rate, "5 per minute", "STK pushes per (channel, phone)"),
    Setting("RATE_LIMIT_STK_CHANNEL", rate, "60 per minute", "STK pushes per channel"),
    Setting("RATE_LIMIT_CHANNEL_STEPS", rate, "10 per minute",
            "verifications, URL registrations and callback-token rotations, each per channel; "
            "M-Pesa reversal requests per payment"),
    Setting("RATE_LIMIT_PASSWORD_RESET", rate, "3 per hour",
            "password-reset codes texted for one email (API and web UI together)"),
    Setting("RATE_LIMIT_PASSWORD_RESET_ADDRESS", rate, "20 per hour",
            "password-reset requests and code tries from one client address"),
)
_BY_NAME = {setting.name: setting for setting in SETTINGS}

# Settings that are not read from the environment.
FIXED: dict[str, Any] = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
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
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    },
}


# --- loading ------------------------------------------------------------------------------


def load_config(
    environ: Mapping[str, str] | None = None,
    instance_path: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the settings dict; raise ConfigError when production lacks a secret."""
    env: dict[str, Any] = dict(os.environ if environ is None else environ)
    overrides = dict(overrides or {})
    # Overrides may carry settings by their environment names (tests pass DATABASE_URL
    # etc.), as text or already typed.
    for name in list(overrides):
        if name in _BY_NAME:
            env[name] = overrides.pop(name)
    instance = Path(instance_path or Path.cwd() / "instance")
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        values[setting.name] = _value(setting, env.get(setting.name), values, instance)
        if setting.name == "APP_ENV" and values["APP_ENV"] == "production":
            # Before any default is worked out: production never generates a secret.
            _check_production(env)
    app_env = values["APP_ENV"]
    config = {setting.config_key: values[setting.name] for setting in SETTINGS}
    config.update(FIXED, TESTING=app_env == "testing")
    config["CELERY"] = celery_settings(values["REDIS_URL"], app_env, values["REDIS_KEY_PREFIX"])
    config.update(overrides)
    return config


def _given(raw: Any) -> bool:
    """Set in the environment: an empty value counts as unset."""
    return raw is not None and not (isinstance(raw, str) and not raw.strip())


def _value(setting: Setting, raw: Any, values: dict, instance: Path) -> Any:
    if not _given(raw):
        if setting.default is None:
            return None
        if callable(setting.default):
            return setting.default(values, instance)
        raw = setting.default
    if not isinstance(raw, str):  # an override given already typed
        return raw
    try:
        return setting.read(raw)
    except ValueError as exc:
        raise ConfigError(f"{setting.name} {exc}") from None


def _check_production(env: Mapping[str, Any]) -> None:
    missing = [s.name for s in SETTINGS if s.production in (REQUIRED, REQUIRED_HTTPS)
               and not _given(env.get(s.name))]
    if missing:
        raise ConfigError("APP_ENV=production needs these environment variables: "
                          + ", ".join(missing))
    for setting in SETTINGS:
        raw = env.get(setting.name)
        if setting.production == REFUSED and _given(raw) and _value(setting, raw, {}, Path()):
            raise ConfigError(f"{setting.name}={raw} is refused when APP_ENV=production")
        if setting.production in (HTTPS, REQUIRED_HTTPS) and _given(raw):
            _check_public_url(setting.name, str(raw))


def _check_public_url(name: str, address: str) -> None:
    parts = urlsplit(address.strip())
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and _is_loopback(host):
        return
    raise ConfigError(f"{name} must be an https:// address in production (http:// only for "
                      f"127.0.0.1 or localhost), not {address.strip()!r}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
                                     # this (kombu's default is an hour); longer than any
                                     # countdown we use (SMS retries wait up to 300 s).
                                     "visibility_timeout": 1200,
                                     "global_keyprefix": key_prefix + "celery:"},
        "task_default_queue": "default",
        "timezone": "UTC",
        "enable_utc": True,
    }


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


# --- the README's table ----------------------------------------------------------------------

README_BEGIN = "<!-- settings: written from loyalty/config.py by `make readme`; edit them there -->"
README_END = "<!-- end of settings -->"


def settings_markdown() -> str:
    """README.md's configuration table, one row per setting."""
    rows = ["| Variable | Default | Production | Meaning |", "|---|---|---|---|"]
    rows += [f"| `{s.name}` | {s.shown_default()} | {s.production} | {s.doc} |" for s in SETTINGS]
    return "\n".join(rows)


def with_settings_table(readme: str) -> str:
    """The README text with the table between its markers written anew."""
    head, begin, rest = readme.partition(README_BEGIN)
    _, end, tail = rest.partition(README_END)
    if not (begin and end):
        raise ValueError(f"the README has no {README_BEGIN!r} … {README_END!r} block")
    return f"{head}{begin}\n{settings_markdown()}\n{end}{tail}"


if __name__ == "__main__":  # make readme: python -m loyalty.config README.md
    readme = Path(sys.argv[1])
    readme.write_text(with_settings_table(readme.read_text()))
