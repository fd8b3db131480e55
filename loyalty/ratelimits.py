"""Rate limits (Flask-Limiter): how often one caller may do what, and the 429 it gets.

| Limit (setting, default)                   | Counted per            | Where                     |
|--------------------------------------------|------------------------|---------------------------|
| RATE_LIMIT_SIGNUP, 5 per hour              | client address         | POST /merchants, /signup  |
| RATE_LIMIT_LOGIN, 5 per 15 minutes         | (email, address)       | failed log-ins only       |
| RATE_LIMIT_LOGIN_ACCOUNT, 20 per hour      | email (the account)    | failed log-ins only       |
| RATE_LIMIT_API_KEY, 600 per minute         | API key                | every /api/v1 call        |
| RATE_LIMIT_STK_PHONE, 5 per minute         | (channel, phone)       | STK push                  |
| RATE_LIMIT_STK_CHANNEL, 60 per minute      | channel                | STK push                  |
| RATE_LIMIT_CHANNEL_STEPS, 10 per minute    | channel, for each step | verify, register-urls,    |
|                                            |                        | rotate-callback-token     |
|                                            | payment                | reverse (M-Pesa)          |
| RATE_LIMIT_PASSWORD_RESET, 3 per hour      | email                  | asking for a reset code   |
| RATE_LIMIT_PASSWORD_RESET_ADDRESS,         | client address         | asking for a reset code,  |
|   20 per hour                              |                        | trying one                |

A channel is counted with its merchant (one tenant can never use up another's limit), an
email and an API key only as a hash (neither reaches Redis in plain text). A reset code is
limited per email whether or not the email is registered, so a refusal tells nothing
either; that limit is what keeps anyone from texting a merchant's phone over and over (the
reset text counts against no SMS quota). A code allows five tries of its own
(services/passwords.py); the per-address limit stops one address from spreading its
guesses over many accounts. The client
address is `request.remote_addr`, which ProxyFix sets from X-Forwarded-For when
PROXY_FIX_X_FOR says how many proxies to trust.

Counts live in Redis under the app's key prefix when REDIS_URL is set, so every gunicorn
worker shares them; in this process's memory otherwise (`make run`). While Redis is
unreachable each process counts in its own memory, so limits never turn into 500s nor
silently off. Safaricom's callbacks (/hooks) and /healthz are never limited. A refusal is
429 with the project's error body (an error page in the web UI) and `Retry-After`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Callable

from apispec import BasePlugin
from flask import Flask, current_app, jsonify, request
from flask_limiter import Limiter, RateLimitExceeded
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import FixedWindowRateLimiter

from loyalty import metrics
from loyalty.errors import error_body
from loyalty.phones import InvalidPhone, normalise_msisdn
from loyalty.tenancy import get_current_merchant_id

log = logging.getLogger(__name__)

EXTENSION = "rate_limits"
# Seconds before an unreachable Redis is tried again (meanwhile: this process's memory).
REDIS_RETRY_SECONDS = 30
# Paths never limited: Safaricom must always get through, and so must the probes.
NEVER_LIMITED = ("/hooks/", "/healthz")


# --- what is counted ------------------------------------------------------------------------


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def client_address() -> str:
    return request.remote_addr or "unknown"


def _api_key() -> str | None:
    # As api/base.py reads it: the scheme in any case, the key with its spaces trimmed, so
    # "bearer  KEY" and "Bearer KEY" are one key, not two counters.
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _per_api_key() -> str:
    return _digest(_api_key() or "")


def _email() -> str:
    return (request.form.get("email") or "").strip().lower()


def _per_reset_email() -> str:
    # The API sends JSON, the web UI's form a form: one count for both doors. Counted as
    # the schema will read it (trimmed, any case), before the schema has checked it.
    body = request.get_json(silent=True) if request.is_json else None
    email = body.get("email") if isinstance(body, dict) else request.form.get("email")
    return _digest(str(email or "").strip().lower())


def _per_email_and_address() -> str:
    return _digest(_email(), client_address())


def _per_account() -> str:
    return _digest(_email())


def _per_channel() -> str:
    return f"{get_current_merchant_id()}:{(request.view_args or {}).get('channel_id')}"


def _per_payment() -> str:
    return f"{get_current_merchant_id()}:{(request.view_args or {}).get('payment_id')}"


def _per_channel_and_phone() -> str:
    body = request.get_json(silent=True)
    phone = str(body.get("phone", "")) if isinstance(body, dict) else ""
    try:
        phone = normalise_msisdn(phone)
    except InvalidPhone:
        pass  # the schema refuses it next; counted as written
    return f"{_per_channel()}:{_digest(phone)}"


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


# On the request itself: `g` lives as long as the app context, which may hold several
# requests (tests keep one open).
_LOGIN_FAILED = "loyalty.login_failed"


def _login_failed(response) -> bool:
    return bool(request.environ.get(_LOGIN_FAILED))


# --- the limiter: Flask-Limiter's, with each app's own storage -------------------------------


class _Limiter(Limiter):
    """Flask-Limiter keeps one storage per Limiter, so with the routes' limits declared
    once here, the last app built in a process (tests build many, each with its own Redis
    prefix or none) would count for all of them. Each app keeps its own instead."""

    @property
    def storage(self):
        return current_app.extensions[EXTENSION].storage

    @property
    def limiter(self):
        return current_app.extensions[EXTENSION].strategy


limiter = _Limiter(key_func=client_address, strategy="fixed-window", swallow_errors=True,
                   headers_enabled=False)


@limiter.request_filter
def _never_limited() -> bool:
    return request.path.startswith(NEVER_LIMITED)


def _limit(setting: str, scope: str, key: Callable[[], str], message: str, **options):
    # Shared: the API's and the web UI's doors to one action count together.
    # override_defaults=False: the API-key limit of the route's blueprint applies too.
    return limiter.shared_limit(_setting(setting), scope, key_func=key, error_message=message,
                                override_defaults=False, **options)


signup = _limit("RATE_LIMIT_SIGNUP", "signup", client_address,
                "Too many sign-ups from this address.", methods=["POST"])
failed_login = _limit("RATE_LIMIT_LOGIN", "login", _per_email_and_address,
                      "Too many failed attempts for this email.", methods=["POST"],
                      deduct_when=_login_failed)
failed_login_account = _limit("RATE_LIMIT_LOGIN_ACCOUNT", "login-account", _per_account,
                              "Too many failed attempts for this email.", methods=["POST"],
                              deduct_when=_login_failed)
api_key = _limit("RATE_LIMIT_API_KEY", "api-key", _per_api_key,
                 "Too many requests with this API key.",
                 exempt_when=lambda: _api_key() is None)
stk_per_phone = _limit("RATE_LIMIT_STK_PHONE", "stk-phone", _per_channel_and_phone,
                       "Too many payment prompts to this phone.")
stk_per_channel = _limit("RATE_LIMIT_STK_CHANNEL", "stk-channel", _per_channel,
                         "Too many payment prompts on this channel.")
verify = _limit("RATE_LIMIT_CHANNEL_STEPS", "verify", _per_channel,
                "Too many verifications of this channel.")
register_urls = _limit("RATE_LIMIT_CHANNEL_STEPS", "register-urls", _per_channel,
                       "Too many URL registrations for this channel.")
rotate_callback_token = _limit("RATE_LIMIT_CHANNEL_STEPS", "rotate-callback-token", _per_channel,
                               "Too many callback-token rotations for this channel.")
pull_register = _limit("RATE_LIMIT_CHANNEL_STEPS", "pull-register", _per_channel,
                       "Too many Pull Transactions registrations for this channel.")
reconcile = _limit("RATE_LIMIT_CHANNEL_STEPS", "reconcile", _per_channel,
                   "Too many reconciliation runs asked for this channel.")
# Each asks Safaricom's Reversal API (mark-reversed calls nobody and is not limited).
reverse = _limit("RATE_LIMIT_CHANNEL_STEPS", "reverse", _per_payment,
                 "Too many reversal requests for this payment.")
reset_code = _limit("RATE_LIMIT_PASSWORD_RESET", "password-reset", _per_reset_email,
                    "Too many codes were asked for this email.", methods=["POST"])
reset_address = _limit("RATE_LIMIT_PASSWORD_RESET_ADDRESS", "password-reset-address",
                       client_address, "Too many password resets from this address.",
                       methods=["POST"])


def limited(*limits):
    """Apply these limits to a view (innermost under the route) and mark it for the
    OpenAPI document, which then lists its 429."""
    def decorate(view):
        for one in reversed(limits):
            view = one(view)
        view._rate_limited = True
        return view

    return decorate


def login_failed() -> None:
    """The log-in in this request failed: it counts against both log-in limits."""
    request.environ[_LOGIN_FAILED] = True


def login_tries_left() -> tuple[int, int] | None:
    """After a failed log-in in this request: how many more failures the tightest log-in
    limit allows before it locks, and that limit's window in seconds (None: no limit
    counted). This request's failure is counted only after the response, so it is taken
    off here."""
    left = [(counted.remaining - 1, counted.limit.get_expiry())
            for counted in limiter.current_limits
            if {"login", "login-account"} & set(counted.request_args)]
    return min(left) if left else None


def login_succeeded() -> None:
    """A successful log-in forgets that email's failures from this address (the per
    account count stays: it stops guessing spread over many addresses)."""
    for counted in limiter.current_limits:
        if "login" in counted.request_args:
            limiter.limiter.clear(counted.limit, *counted.request_args)


# --- storage ----------------------------------------------------------------------------------


class _RedisOrMemory(RedisStorage):
    """Redis, or this process's memory while Redis cannot be reached."""

    def __init__(self, uri: str, *, key_prefix: str, connection_pool=None) -> None:
        super().__init__(uri, connection_pool=connection_pool, key_prefix=key_prefix)
        self.memory = MemoryStorage()
        self.down_until = 0.0

    def _either(self, method: str, *args, **kwargs):
        if time.monotonic() >= self.down_until:
            try:
                return getattr(RedisStorage, method)(self, *args, **kwargs)
            except self.base_exceptions as exc:
                log.warning("rate limits: Redis unavailable (%s); counting in memory for %d s",
                            type(exc).__name__, REDIS_RETRY_SECONDS)
                self.down_until = time.monotonic() + REDIS_RETRY_SECONDS
        return getattr(self.memory, method)(*args, **kwargs)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self._either("incr", key, expiry, amount=amount)

    def get(self, key: str) -> int:
        return self._either("get", key)

    def get_expiry(self, key: str) -> float:
        return self._either("get_expiry", key)

    def clear(self, key: str) -> None:
        self.memory.clear(key)
        self._either("clear", key)

    def reset(self) -> int | None:
        self.memory.reset()
        return self._either("reset")


@dataclass(frozen=True)
class _State:
    storage: object
    strategy: FixedWindowRateLimiter


def init_app(app: Flask, api) -> None:
    """Count in Redis under the app's prefix (memory without REDIS_URL), answer 429s, and
    list them in the OpenAPI document. Before the API's authentication is registered, so a
    flood with one key is refused before it costs a database lookup."""
    client = app.extensions.get("redis")
    if app.config["REDIS_URL"]:
        storage = _RedisOrMemory(app.config["REDIS_URL"],
                                 key_prefix=app.config["REDIS_KEY_PREFIX"] + "rate-limits",
                                 connection_pool=client.connection_pool if client else None)
    else:
        storage = MemoryStorage()
    app.extensions[EXTENSION] = _State(storage, FixedWindowRateLimiter(storage))
    # Flask-Limiter's own storage goes unused (see _Limiter): never let it reach anything.
    app.config.update(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://")
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, too_many_requests)
    api.spec.components.response(TOO_MANY_REQUESTS, TOO_MANY_REQUESTS_DOC)
    plugin = OpenApiLimits(app)
    plugin.init_spec(api.spec)
    api.spec.plugins.append(plugin)


def reset(app: Flask) -> None:
    """Forget every count of this app (tests start each from zero)."""
    state = app.extensions.get(EXTENSION)  # none in the hooks-only app
    if state is not None:
        state.storage.reset()


# --- the answer -------------------------------------------------------------------------------


def retry_after() -> int:
    """Seconds until the refused limit lets this caller in again."""
    refused = limiter.current_limit
    if refused is None:
        return 60
    return max(1, int(refused.reset_at - time.time()))


def in_words(seconds: int) -> str:
    """90 seconds, 15 minutes, 2 hours."""
    if seconds < 90:
        return f"{seconds} seconds"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes" if minutes < 90 else f"{-(-minutes // 60)} hours"


def refusal(error: RateLimitExceeded) -> tuple[str, int]:
    """The sentence a refusal is explained with, and its Retry-After in seconds."""
    metrics.RATE_LIMITED.labels(endpoint=request.endpoint or "unknown").inc()
    seconds = retry_after()
    return f"{error.description} Try again in {in_words(seconds)}.", seconds


def too_many_requests(error: RateLimitExceeded):
    """The JSON answer (the web UI's pages have their own: web/errors.py)."""
    message, seconds = refusal(error)
    response = jsonify(error_body(429, message))
    response.status_code = 429
    response.headers["Retry-After"] = str(seconds)
    return response


# --- the OpenAPI document -----------------------------------------------------------------------

TOO_MANY_REQUESTS = "TooManyRequests"
TOO_MANY_REQUESTS_DOC = {
    "description": "Too many requests: a rate limit was reached (every API key, and some "
                   "operations per channel, phone or client address; README: Security).",
    "headers": {"Retry-After": {"description": "seconds until the limit lets you in again",
                                "schema": {"type": "integer", "minimum": 1}}},
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string", "enum": ["too_many_requests"]},
                "message": {"type": "string"}}}}}}},
}


class OpenApiLimits(BasePlugin):
    """A 429 on every operation that is limited: all that take an API key, and those
    marked with `limited()`."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        view = self.app.view_functions.get(rule.endpoint) if rule is not None else None
        for operation in (operations or {}).values():
            keyed = operation.get("security") != []
            if keyed or getattr(view, "_rate_limited", False):
                operation.setdefault("responses", {}).setdefault("429", TOO_MANY_REQUESTS)
