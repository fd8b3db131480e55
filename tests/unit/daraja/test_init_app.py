"""Wiring into Flask: one session and one token cache per app, clients per merchant app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses
from flask import Flask

from loyalty import daraja
from loyalty.daraja import DarajaClient, client_for
from loyalty.daraja.tokens import MemoryTokenCache, RedisTokenCache

from .conftest import CONSUMER_KEY, CONSUMER_SECRET, REDIS_URL, oauth_body


def _app(**config) -> Flask:
    app = Flask(__name__)
    settings = {"DARAJA_SANDBOX_URL": "https://sandbox.daraja.test/",
                "DARAJA_PRODUCTION_URL": "https://api.daraja.test", "DARAJA_TIMEOUT": 4.0,
                "REDIS_URL": None, "REDIS_KEY_PREFIX": "loyalty-test:", "DARAJA_POOL_SIZE": 20}
    app.config.update(settings | config)
    daraja.init_app(app)
    return app


@pytest.fixture
def app() -> Iterator[Flask]:
    app = _app()
    yield app
    app.extensions["daraja"].close()


def test_init_app_builds_one_session_and_an_in_memory_cache_without_redis(app):
    extension = app.extensions["daraja"]
    assert isinstance(extension.token_cache, MemoryTokenCache)
    assert extension.base_urls == {"sandbox": "https://sandbox.daraja.test",
                                   "production": "https://api.daraja.test"}
    adapter = extension.session.get_adapter("https://api.daraja.test/x")
    assert adapter.max_retries.total == 0  # a resent STK push could charge twice
    assert extension.session.get_adapter("http://127.0.0.1:5000/x") is adapter


def test_the_connection_pool_is_as_large_as_configured():
    app = _app(DARAJA_POOL_SIZE=7)
    adapter = app.extensions["daraja"].session.get_adapter("https://api.daraja.test/x")
    assert adapter._pool_maxsize == 7  # concurrent calls to one host before they wait
    app.extensions["daraja"].close()


def test_init_app_uses_redis_when_configured():
    app = _app(REDIS_URL=REDIS_URL)
    try:
        cache = app.extensions["daraja"].token_cache
        assert isinstance(cache, RedisTokenCache)
        assert "loyalty-test:" in repr(cache)
    finally:
        app.extensions["daraja"].close()


@pytest.mark.parametrize("environment, base", [("sandbox", "https://sandbox.daraja.test"),
                                               ("production", "https://api.daraja.test")])
def test_client_for_picks_the_base_url_and_shares_session_and_cache(app, environment, base):
    extension = app.extensions["daraja"]
    with app.app_context():
        client = client_for(environment=environment, consumer_key=CONSUMER_KEY,
                            consumer_secret=CONSUMER_SECRET)
        with responses.RequestsMock() as rsps:
            rsps.add(responses.GET, f"{base}/oauth/v1/generate", json=oauth_body())
            client.access_token()
            assert rsps.calls[0].request.req_kwargs["timeout"] == 4.0
        again = client_for(environment=environment, consumer_key=CONSUMER_KEY,
                           consumer_secret=CONSUMER_SECRET)
        again.access_token()  # from the shared cache: no HTTP call is registered now
    assert isinstance(client, DarajaClient)
    assert (client.base_url, client.environment) == (base, environment)
    assert client._transport.session is extension.session
    assert again._transport.tokens is extension.token_cache


def test_client_for_refuses_an_unknown_environment(app):
    with app.app_context(), pytest.raises(ValueError, match="environment"):
        client_for(environment="staging", consumer_key="k", consumer_secret="s")


def test_client_for_needs_init_app():
    with Flask(__name__).app_context(), pytest.raises(RuntimeError, match="init_app"):
        client_for(environment="sandbox", consumer_key="k", consumer_secret="s")


def test_the_package_docstring_is_kept():
    assert daraja.__doc__.startswith("The only code that speaks to Safaricom")
