"""SecurityCredential: RSA PKCS#1 v1.5 with Safaricom's certificate, base64-encoded."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from loyalty import crypto
from loyalty.daraja import security
from loyalty.daraja.errors import InvalidRequest

PASSWORD = "Safaricom999!*!"  # the public sandbox initiator password (DARAJA.md 13)


def _certificate(private_key) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test.invalid")])
    now = datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .sign(private_key, hashes.SHA256()))


@pytest.fixture(scope="module")
def rsa_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, _certificate(key)


@pytest.mark.parametrize("encoding", [serialization.Encoding.PEM, serialization.Encoding.DER])
def test_ciphertext_decrypts_to_the_password(rsa_pair, encoding):
    key, cert = rsa_pair
    credential = crypto.rsa_encrypt_with_certificate(PASSWORD, cert.public_bytes(encoding))
    ciphertext = base64.b64decode(credential, validate=True)
    assert len(ciphertext) == 256
    assert key.decrypt(ciphertext, padding.PKCS1v15()).decode() == PASSWORD


def test_padding_is_random_so_each_credential_differs(rsa_pair):
    key, cert = rsa_pair
    pem = cert.public_bytes(serialization.Encoding.PEM)
    first, second = (crypto.rsa_encrypt_with_certificate(PASSWORD, pem) for _ in range(2))
    assert first != second
    assert key.decrypt(base64.b64decode(second), padding.PKCS1v15()).decode() == PASSWORD


def test_a_4096_bit_certificate_gives_512_bytes():
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    pem = _certificate(key).public_bytes(serialization.Encoding.PEM)
    ciphertext = base64.b64decode(crypto.rsa_encrypt_with_certificate("pw", pem))
    assert len(ciphertext) == 512
    assert key.decrypt(ciphertext, padding.PKCS1v15()) == b"pw"


def test_a_certificate_without_an_rsa_key_is_refused():
    pem = _certificate(ec.generate_private_key(ec.SECP256R1())).public_bytes(
        serialization.Encoding.PEM)
    with pytest.raises(ValueError, match="RSA") as caught:
        crypto.rsa_encrypt_with_certificate(PASSWORD, pem)
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize("garbage", [b"", b"not a certificate", b"-----BEGIN CERTIFICATE-----\nxx"])
def test_garbage_is_refused_without_echoing_the_password(garbage):
    with pytest.raises(ValueError, match="X.509") as caught:
        crypto.rsa_encrypt_with_certificate(PASSWORD, garbage)
    assert PASSWORD not in str(caught.value)


def test_a_password_too_long_for_the_key_is_refused_without_echoing_it(rsa_pair):
    secret = "S" * 300
    with pytest.raises(ValueError, match="too long") as caught:
        crypto.rsa_encrypt_with_certificate(secret, rsa_pair[1].public_bytes(
            serialization.Encoding.PEM))
    assert secret not in str(caught.value)


@pytest.mark.parametrize("environment, common_name", [
    ("sandbox", "apicrypt.safaricom.co.ke"),
    ("production", "apigee.apicaller.safaricom.co.ke"),
])
def test_shipped_certificates_load_and_encrypt(environment, common_name):
    cert = x509.load_pem_x509_certificate(security.certificate(environment))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == common_name
    key_bytes = cert.public_key().key_size // 8
    credential = security.security_credential(PASSWORD, environment)
    assert len(base64.b64decode(credential, validate=True)) == key_bytes == 256
    assert PASSWORD not in credential


def test_sandbox_and_production_certificates_differ():
    assert security.certificate("sandbox") != security.certificate("production")


def test_unknown_environment_and_missing_password_are_refused():
    with pytest.raises(ValueError, match="environment"):
        security.security_credential(PASSWORD, "staging")
    with pytest.raises(InvalidRequest) as caught:
        security.security_credential("", "sandbox")
    assert caught.value.field == "initiator_password"


def test_an_unencryptable_password_becomes_invalid_request_without_the_password():
    secret = "P" * 400
    with pytest.raises(InvalidRequest) as caught:
        security.security_credential(secret, "production")
    assert caught.value.field == "initiator_password"
    assert secret not in str(caught.value) and secret not in repr(caught.value)
