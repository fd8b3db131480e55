"""The SecurityCredential Daraja wants for Account Balance and Transaction Status.

It is the initiator password encrypted with Safaricom's public certificate for the
environment (DARAJA.md 7). The certificates ship in certs/ (see certs/README.md); the RSA
work happens in loyalty.crypto, the only module allowed to touch `cryptography`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from loyalty import crypto
from loyalty.daraja.errors import InvalidRequest
from loyalty.daraja.url_rules import ENVIRONMENTS

CERT_DIR = Path(__file__).resolve().parent / "certs"


@lru_cache(maxsize=len(ENVIRONMENTS))
def certificate(environment: str) -> bytes:
    """Safaricom's public certificate for `environment`, as shipped in certs/."""
    if environment not in ENVIRONMENTS:
        raise ValueError(f"environment must be one of {ENVIRONMENTS}, not {environment!r}")
    return (CERT_DIR / f"{environment}.cer").read_bytes()


def security_credential(initiator_password: str, environment: str) -> str:
    """Encrypt an initiator password for `environment` ("sandbox" or "production").

    Random padding makes every result different; all of them are valid, so compute it
    when the password is saved and store it encrypted rather than recomputing per call.
    """
    if not initiator_password:
        raise InvalidRequest("The initiator password is missing.", field="initiator_password")
    pem = certificate(environment)
    try:
        return crypto.rsa_encrypt_with_certificate(initiator_password, pem)
    except ValueError as exc:
        # crypto's messages describe the certificate or the length, never the password.
        raise InvalidRequest(f"Cannot encrypt the initiator password: {exc}.",
                             field="initiator_password") from None
