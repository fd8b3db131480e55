"""The HTTP edge of webhook deliveries: the signature header (and the receiver's check that
docs/WEBHOOKS.md gives merchants), and refusing a host that resolves to a private address
in production (no network: the resolver is stubbed)."""

import hashlib
import hmac
import re
import socket
import time
from pathlib import Path

import requests

from loyalty import webhook_http


def test_the_signature_header_carries_one_v1_per_secret():
    header = webhook_http.signature_header(["whsec_new", "whsec_old"], 1767225600, '{"a":1}')
    t, new, old = header.split(",")
    assert t == "t=1767225600"
    for secret, part in (("whsec_new", new), ("whsec_old", old)):
        expected = hmac.new(secret.encode(), b'1767225600.{"a":1}', hashlib.sha256).hexdigest()
        assert part == f"v1={expected}"


WEBHOOKS_DOC = Path(__file__).resolve().parents[2] / "docs" / "WEBHOOKS.md"


def _documented_python_verifier():
    """The `verify` a merchant copies from docs/WEBHOOKS.md, run as written."""
    [block] = re.findall(r"```python\n(.*?)```", WEBHOOKS_DOC.read_text(), re.S)
    namespace: dict = {}
    exec(compile(block, str(WEBHOOKS_DOC), "exec"), namespace)  # noqa: S102 - our own doc
    return namespace["verify"]


def test_the_documented_python_verifier_accepts_what_the_platform_signs():
    verify = _documented_python_verifier()
    body, now = '{"type": "payment.credited", "data": {"amount": "5000.00"}}', int(time.time())
    header = webhook_http.signature_header(["whsec_new", "whsec_old"], now, body)
    assert verify("whsec_new", header, body.encode())
    assert verify("whsec_old", header, body.encode())  # right after a rotation
    assert not verify("whsec_someone-elses", header, body.encode())
    assert not verify("whsec_new", header, body.replace("5000", "50000").encode())
    stale = webhook_http.signature_header(["whsec_new"], now - 600, body)
    assert not verify("whsec_new", stale, body.encode())  # a replayed old request
    assert not verify("whsec_new", "v1=" + header.split("v1=")[1], body.encode())  # no t=


def _resolving_to(address):
    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 443))]
    return getaddrinfo


def test_a_public_name_resolving_to_a_private_address_is_refused_without_a_request(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", _resolving_to("10.0.0.8"))

    class NoNetwork(requests.Session):
        def post(self, *args, **kwargs):
            raise AssertionError("no request may be sent")

    outcome = webhook_http.post(NoNetwork(), "https://pos.example.com/hook", "{}", {},
                                timeout=1, public_only=True)
    assert outcome.status_code is None and not outcome.ok
    assert "10.0.0.8" in outcome.error and "not a public internet address" in outcome.error


def test_a_public_address_passes_the_check(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", _resolving_to("196.201.214.200"))
    webhook_http.check_public_host("https://pos.example.com/hook")
