"""Safaricom's callback URL rules: forbidden words, https and public hosts in production."""

from __future__ import annotations

import string

import pytest

from loyalty.crypto import new_callback_token
from loyalty.daraja.url_rules import FORBIDDEN_WORDS, UrlRuleViolation, check_callback_url

PLACES = {
    "host": "https://{w}.example.com/hooks/ab12/c2b/confirmation",
    "path": "https://loyalty.example.com/hooks/{w}/confirmation",
    "query": "https://loyalty.example.com/hooks/ab12?ref={w}",
    "inside a word": "https://loyalty.example.com/hooks/pre{w}post/confirm",
}


def _violation(url: str, environment: str = "production") -> UrlRuleViolation:
    with pytest.raises(UrlRuleViolation) as caught:
        check_callback_url(url, environment)
    return caught.value


@pytest.mark.parametrize("environment", ["sandbox", "production"])
@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
@pytest.mark.parametrize("word", FORBIDDEN_WORDS)
def test_every_forbidden_word_is_refused_in_any_case_and_place(word, case, place, environment):
    violation = _violation(PLACES[place].format(w=case(word)), environment)
    assert violation.rule == "forbidden_word"
    assert violation.word == word
    assert f'"{word}"' in str(violation)


@pytest.mark.parametrize("url, word", [
    ("https://executive-lounge.example.com/cb", "exec"),
    ("https://loyalty.example.com/cb?query=1", "query"),
    ("https://loyalty.example.com/MPesa/confirm", "mpesa"),
    ("https://loyalty.example.com/M-PESA/confirm", "m-pesa"),
    ("https://cmdr-shop.example.com/cb", "cmd"),
    ("https://loyalty.example.com/mysql-backup/cb", "sql"),
    ("https://loyalty.example.com/setup.EXE", "exe"),
    ("https://Safaricom-Payments.example.com/cb", "safaricom"),
    ("https://loyalty.example.com/%6Dpesa/cb", "mpesa"),  # still "mpesa" once decoded
])
def test_real_world_spellings_are_caught(url, word):
    violation = _violation(url)
    assert (violation.rule, violation.word) == ("forbidden_word", word)


def test_the_message_explains_the_rule_to_a_merchant():
    message = str(_violation("https://executive-lounge.example.com/cb"))
    assert '"exec"' in message and "Safaricom" in message and "any case" in message


def test_words_that_only_look_similar_pass():
    # Substring rule: "sequel" does not contain "sql", "pesapal" does not contain "mpesa".
    check_callback_url("https://sequel.example.com/pesapal/cb?ref=ab12", "production")


def test_hex_callback_tokens_can_never_form_a_forbidden_word():
    # Every word needs a letter outside 0-9a-f, which is why callback tokens are hex.
    for word in FORBIDDEN_WORDS:
        assert set(word) - set(string.hexdigits.lower())
    for _ in range(200):
        check_callback_url(f"https://loyalty.example.com/hooks/{new_callback_token()}/stk",
                           "production")


def test_production_requires_https():
    violation = _violation("http://loyalty.example.com/hooks/ab12/stk")
    assert violation.rule == "https_required"
    assert "https://" in str(violation)


def test_sandbox_accepts_http_and_the_local_emulator():
    check_callback_url("http://loyalty.example.com/hooks/ab12/stk", "sandbox")
    check_callback_url("http://127.0.0.1:5000/hooks/ab12/stk", "sandbox")
    check_callback_url("http://localhost:5000/hooks/ab12/stk", "sandbox")


@pytest.mark.parametrize("host", [
    "localhost", "LOCALHOST", "api.localhost", "shop.local", "127.0.0.1", "127.1",
    "2130706433", "0x7f.0.0.1", "10.0.0.5", "172.16.4.2", "192.168.1.10", "169.254.169.254",
    "0.0.0.0", "100.64.0.1", "[::1]", "[fe80::1]", "[fc00::1]", "[::]", "[::ffff:127.0.0.1]",
    "[::ffff:10.0.0.1]",
])
def test_production_refuses_private_and_local_hosts(host):
    url = f"https://{host}/hooks/ab12/stk"
    violation = _violation(url)
    assert violation.rule == "private_address"
    check_callback_url(url, "sandbox")  # the sandbox (and its emulator) allows them


@pytest.mark.parametrize("url", [
    "https://loyalty.example.com/hooks/ab12/c2b/confirmation",
    "https://8.8.8.8/hooks/ab12/stk",
    "https://[2001:4860:4860::8888]/hooks/ab12/stk",
    "https://loyalty.example.com:8443/hooks/ab12/stk",
    "https://localhost.example.com/hooks/ab12/stk",  # a public name that starts with it
])
def test_public_https_urls_pass_in_production(url):
    check_callback_url(url, "production")


@pytest.mark.parametrize("url", [
    "", "   ", "loyalty.example.com/hooks", "ftp://loyalty.example.com/x", "https://",
    "https://loyalty .example.com/x", " https://loyalty.example.com/x",
    "https://loyalty.example.com:99999/x", "https://loyalty.example.com:port/x", None, 42,
])
def test_malformed_urls_are_refused(url):
    violation = _violation(url, "sandbox")
    assert violation.rule == "malformed"
    assert violation.word is None


def test_unknown_environment_is_a_programming_error():
    with pytest.raises(ValueError, match="environment") as caught:
        check_callback_url("https://loyalty.example.com/x", "staging")
    assert not isinstance(caught.value, UrlRuleViolation)


@pytest.mark.parametrize("url, rule", [
    ("http://loyalty.example.com/hooks/ab12/stk", "https_required"),
    ("https://127.0.0.1:8001/hooks/ab12/stk", "private_address"),
    ("https://localhost/hooks/ab12/stk", "private_address"),
    ("https://10.0.0.5/hooks/ab12/stk", "private_address"),
])
def test_a_production_platform_gives_sandbox_channels_productions_rules(url, rule):
    check_callback_url(url, "sandbox")  # fine for a development platform and its emulator
    with pytest.raises(UrlRuleViolation) as caught:
        check_callback_url(url, "sandbox", public_only=True)
    assert caught.value.rule == rule
    check_callback_url("https://loyalty.example.com/hooks/ab12/stk", "sandbox", public_only=True)


@pytest.mark.parametrize("app_env, public_only", [("production", True), ("development", False),
                                                   ("testing", False)])
def test_the_platforms_app_env_decides_which_rules_its_channels_get(app_env, public_only):
    from flask import Flask

    from loyalty import daraja

    app = Flask(__name__)
    app.config.update(APP_ENV=app_env, DARAJA_POOL_SIZE=2, REDIS_URL=None,
                      DARAJA_SANDBOX_URL="https://sandbox.daraja.test",
                      DARAJA_PRODUCTION_URL="https://api.daraja.test")
    daraja.init_app(app)
    with app.app_context():
        assert daraja.client_for(environment="sandbox", consumer_key="k",
                                 consumer_secret="s")._public_urls_only is public_only
        local = "http://127.0.0.1:5000/hooks/ab12/stk"
        if public_only:
            with pytest.raises(UrlRuleViolation):
                daraja.check_callback_url(local, "sandbox")
        else:
            daraja.check_callback_url(local, "sandbox")
    app.extensions["daraja"].close()
