"""The only code that speaks to Safaricom (client, token cache, payloads, URL rules)."""

from __future__ import annotations

from dataclasses import dataclass

import redis
import requests
from flask import current_app
from requests.adapters import HTTPAdapter

from loyalty.daraja import url_rules
from loyalty.daraja.client import DarajaClient
from loyalty.daraja.tokens import MemoryTokenCache, RedisTokenCache, TokenCache
from loyalty.daraja.url_rules import ENVIRONMENTS

__all__ = ["DarajaClient", "DarajaExtension", "check_callback_url", "client_for", "init_app"]

@dataclass
class DarajaExtension:
    """What init_app shares across every client of one app (app.extensions["daraja"])."""

    session: requests.Session
    token_cache: TokenCache
    base_urls: dict[str, str]
    timeout: float
    # APP_ENV=production: every channel's callback URLs get production's rules (url_rules).
    public_urls_only: bool = False

    def close(self) -> None:
        self.session.close()
        if isinstance(self.token_cache, RedisTokenCache):
            self.token_cache.close()


def init_app(app) -> None:
    """Build the shared HTTP session and token cache from the app's config."""
    config = app.config
    session = requests.Session()
    # No adapter-level retries: a resent STK push could prompt (and charge) twice.
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=config["DARAJA_POOL_SIZE"],
                          max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)  # the local emulator
    if config.get("REDIS_URL"):
        client = redis.Redis.from_url(config["REDIS_URL"], socket_timeout=5,
                                      socket_connect_timeout=2)
        cache: TokenCache = RedisTokenCache(client, config.get("REDIS_KEY_PREFIX", ""))
    else:
        cache = MemoryTokenCache()  # development without Redis: one process, one cache
    app.extensions["daraja"] = DarajaExtension(
        session=session, token_cache=cache,
        base_urls={"sandbox": config["DARAJA_SANDBOX_URL"].rstrip("/"),
                   "production": config["DARAJA_PRODUCTION_URL"].rstrip("/")},
        timeout=float(config.get("DARAJA_TIMEOUT", 10.0)),
        public_urls_only=config.get("APP_ENV") == "production")


def client_for(*, environment: str, consumer_key: str, consumer_secret: str) -> DarajaClient:
    """A client for one merchant's Daraja app, sharing the app's session and token cache."""
    extension: DarajaExtension | None = current_app.extensions.get("daraja")
    if extension is None:
        raise RuntimeError("loyalty.daraja.init_app(app) has not been called")
    if environment not in ENVIRONMENTS:
        raise ValueError(f"environment must be one of {ENVIRONMENTS}, not {environment!r}")
    return DarajaClient(session=extension.session, base_url=extension.base_urls[environment],
                        environment=environment, consumer_key=consumer_key,
                        consumer_secret=consumer_secret, token_cache=extension.token_cache,
                        timeout=extension.timeout,
                        public_urls_only=extension.public_urls_only)


def check_callback_url(url: str, environment: str) -> None:
    """Safaricom's URL rules for a channel's `environment` on this platform (url_rules);
    raises UrlRuleViolation."""
    extension: DarajaExtension | None = current_app.extensions.get("daraja")
    url_rules.check_callback_url(url, environment,
                                 public_only=bool(extension and extension.public_urls_only))
