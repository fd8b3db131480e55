"""Authenticated HTTP to Daraja for one app: OAuth tokens, sending, error mapping.

It owns the only retry this package makes: a call whose token the gateway refused is sent
once more with a new token. The gateway refuses a token before M-Pesa sees the request, so
this is safe even for an STK push; every other retry is the caller's decision.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Iterable
from typing import Any

import requests

from loyalty import metrics
from loyalty.daraja.errors import BadCredentials, DarajaUnavailable
from loyalty.daraja.replies import (
    RATE_LIMIT_CODES,
    Reply,
    error_for,
    read_reply,
    redact,
    token_refused,
)
from loyalty.daraja.tokens import TokenCache, token_key
from loyalty.daraja.url_rules import ENVIRONMENTS

log = logging.getLogger(__name__)

TOKEN_MARGIN = 60  # seconds: stop using a cached token a minute before Safaricom does
DEFAULT_TOKEN_LIFETIME = 3599  # Daraja documents 3600 s; used only if expires_in is garbled


class Transport:
    """Tokens and JSON POSTs for one Daraja app (environment + consumer key/secret)."""

    def __init__(self, *, session: requests.Session, base_url: str, environment: str,
                 consumer_key: str, consumer_secret: str, token_cache: TokenCache,
                 timeout: float) -> None:
        if environment not in ENVIRONMENTS:
            raise ValueError(f"environment must be one of {ENVIRONMENTS}, not {environment!r}")
        self.base_url = base_url.rstrip("/")
        self.environment = environment
        self.timeout = timeout
        self.session = session
        self.tokens = token_cache
        self._cache_key = token_key(environment, consumer_key, consumer_secret)
        basic = base64.b64encode(f"{consumer_key}:{consumer_secret}".encode()).decode()
        self._basic = basic
        # Everything that must never reach a message; replies are scrubbed of these.
        self._secrets = (consumer_key, consumer_secret, basic)
        # Names the app in logs without revealing its key.
        self.app = hashlib.sha256(consumer_key.encode()).hexdigest()[:8]

    def __repr__(self) -> str:
        return f"<Transport {self.environment} {self.base_url} app={self.app}>"

    # --- OAuth ------------------------------------------------------------------------------

    def access_token(self, *, force_refresh: bool = False) -> str:
        """A valid token from the shared cache, fetching one (single-flight) when needed.
        `force_refresh` always mints a new one: used to verify freshly entered keys."""
        if not force_refresh:
            cached = self.tokens.get(self._cache_key)
            if cached:
                return cached
        return self._renew(force=force_refresh)

    def _renew(self, *, refused: str | None = None, force: bool = False) -> str:
        with self.tokens.lock(self._cache_key):
            cached = self.tokens.get(self._cache_key)
            if cached and not force and cached != refused:
                return cached  # another thread or worker fetched one while we waited
            if cached and cached == refused:
                self.tokens.delete(self._cache_key)  # known bad; a good one stays until replaced
            token, ttl = self._fetch_token()
            self.tokens.set(self._cache_key, token, ttl)
            return token

    def _fetch_token(self) -> tuple[str, int]:
        started = time.monotonic()
        try:
            response = self.session.get(
                f"{self.base_url}/oauth/v1/generate", params={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {self._basic}"}, timeout=self.timeout)
        except requests.RequestException as exc:
            metrics.OAUTH_MINTS.labels(result="unavailable").inc()
            raise self._unreachable(exc, "issue an access token", "/oauth/v1/generate",
                                    started) from None
        # A 2xx body may hold the token itself (even a truncated one): never excerpt it.
        reply = read_reply(response, self._secrets, keep_excerpt=response.status_code >= 300)
        self._log("GET", "/oauth/v1/generate", reply, started)
        if reply.status == 200 and reply.data is not None:
            token = reply.data.get("access_token")
            if isinstance(token, str) and token.strip():
                metrics.OAUTH_MINTS.labels(result="ok").inc()
                log.info("Issued a Daraja access token for %s app %s", self.environment, self.app)
                return token.strip(), _ttl(reply.data.get("expires_in"))
            metrics.OAUTH_MINTS.labels(result="unavailable").inc()
            raise DarajaUnavailable("Safaricom's OAuth answer held no access token (HTTP 200).",
                                    http_status=200)
        metrics.OAUTH_MINTS.labels(result=metrics.daraja_result(reply.status)).inc()
        if reply.status in (400, 401) and reply.code not in RATE_LIMIT_CODES:
            # A wrong key/secret comes back as 400 with an empty or non-JSON body.
            raise BadCredentials(
                f"Safaricom refused the consumer key and secret (HTTP {reply.status}"
                f"{', ' + reply.code if reply.code else ''}). Copy both again from the "
                f"{self.environment} app on the Daraja portal: sandbox and production apps "
                "have different keys.", code=reply.code, http_status=reply.status)
        raise error_for(reply, action="issue an access token")

    # --- sending ----------------------------------------------------------------------------

    def post(self, path: str, body: dict[str, Any], *, action: str,
             secrets: Iterable[str] = ()) -> Reply:
        """Send `body` as JSON with the app's token. `secrets` are extra values (passkey,
        credential) to scrub from anything the reply could put into a message."""
        secrets = tuple(secrets)
        token = self.access_token()
        reply = self._send(path, body, token, action, secrets)
        if token_refused(reply):
            # Expired, revoked by another mint, or issued before a product was added.
            log.info("Daraja refused the cached token for app %s (%s); fetching a new one",
                     self.app, reply.code or reply.status)
            token = self._renew(refused=token)
            reply = self._send(path, body, token, action, secrets)
            if token_refused(reply):
                raise BadCredentials(
                    "Safaricom refused a freshly issued access token. Check that the consumer "
                    f"key and secret belong to a {self.environment} app with this API enabled.",
                    code=reply.code, http_status=reply.status)
        return reply

    def _send(self, path: str, body: dict[str, Any], token: str, action: str,
              secrets: tuple[str, ...]) -> Reply:
        started = time.monotonic()
        try:
            response = self.session.post(
                self.base_url + path, json=body, timeout=self.timeout,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        except requests.RequestException as exc:
            raise self._unreachable(exc, action, path, started) from None
        reply = read_reply(response, (*self._secrets, token, *secrets))
        self._log("POST", path, reply, started)
        return reply

    def _unreachable(self, exc: requests.RequestException, action: str, path: str,
                     started: float) -> DarajaUnavailable:
        api = metrics.daraja_api(path)
        metrics.DARAJA_CALLS.labels(api=api, result="unavailable").inc()
        metrics.DARAJA_SECONDS.labels(api=api).observe(time.monotonic() - started)
        # requests' own text names only host and path (no secret is ever in a URL); log it
        # for operators, but keep the raised message to a fixed sentence.
        log.warning("Daraja call to %s failed for app %s: %s", action, self.app,
                    redact(str(exc), self._secrets))
        if isinstance(exc, requests.ConnectTimeout) or not isinstance(exc, requests.Timeout):
            return DarajaUnavailable(f"Could not reach Safaricom to {action} "
                                     f"({type(exc).__name__}).")
        return DarajaUnavailable(f"Safaricom did not answer within {self.timeout:g} s when "
                                 f"asked to {action}; it may still have processed it.")

    def _log(self, method: str, path: str, reply: Reply, started: float) -> None:
        api = metrics.daraja_api(path)
        metrics.DARAJA_CALLS.labels(api=api, result=metrics.daraja_result(reply.status)).inc()
        metrics.DARAJA_SECONDS.labels(api=api).observe(time.monotonic() - started)
        # Status and code only: request bodies hold passwords and credentials.
        log.info("Daraja %s %s -> %s%s in %.0f ms (app %s)", method, path, reply.status,
                 f" {reply.code}" if reply.code else "", (time.monotonic() - started) * 1000,
                 self.app)


def _ttl(expires_in: object) -> int:
    """Seconds to cache a token: Daraja's expires_in ("3599" or 3599) minus a margin."""
    try:
        seconds = int(str(expires_in).strip())
    except ValueError:
        log.warning("Daraja sent an unreadable expires_in; assuming %s s", DEFAULT_TOKEN_LIFETIME)
        seconds = DEFAULT_TOKEN_LIFETIME
    return seconds - TOKEN_MARGIN
