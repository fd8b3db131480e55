"""The only module that touches `cryptography`, `hmac` and `secrets`.

- `Vault`: MultiFernet over ENCRYPTION_KEY (comma-separated; the first key encrypts, all
  decrypt) so keys can rotate without downtime.
- `EncryptedText`: a column type that stores only ciphertext. Decryption failures name the
  column and never include the ciphertext or plaintext.
- API keys and callback tokens: random, with only a hash of API keys stored.
- Webhook signing secrets and the signature of each delivery (Stripe's scheme).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import current_app, has_app_context

API_KEY_PREFIX = "mpl_"


class KeyConfigError(RuntimeError):
    """ENCRYPTION_KEY is missing or malformed (the message never includes a key)."""


class SecretDecryptionError(RuntimeError):
    """A stored secret cannot be decrypted with the configured keys."""


def generate_key() -> str:
    """A new Fernet key, url-safe base64."""
    return Fernet.generate_key().decode()


class Vault:
    """Encrypts with the first configured key; decrypts with any of them."""

    def __init__(self, keys: str | list[str]):
        if isinstance(keys, str):
            keys = [k.strip() for k in keys.split(",") if k.strip()]
        if not keys:
            raise KeyConfigError("ENCRYPTION_KEY is empty")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode() if isinstance(key, str) else key))
            except (ValueError, TypeError):
                # Position, not the value: the key itself must never reach a log.
                raise KeyConfigError(
                    f"ENCRYPTION_KEY entry #{position} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes; `flask keys generate` makes one)"
                ) from None
        self._primary = fernets[0]
        self._multi = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, *, label: str = "secret") -> str:
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError, UnicodeError):
            raise SecretDecryptionError(
                f"cannot decrypt {label}: none of the keys in ENCRYPTION_KEY opens it "
                "(was it encrypted with a key that has since been removed?)"
            ) from None

    def is_current(self, token: str) -> bool:
        """True when the token was encrypted with the first (current) key."""
        try:
            self._primary.decrypt(token.encode("ascii"))
            return True
        except InvalidToken:
            return False

    def rotate(self, token: str, *, label: str = "secret") -> str:
        """Re-encrypt a token under the first key."""
        try:
            return self._multi.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretDecryptionError(f"cannot rotate {label}: no configured key opens it") from None


_vault: Vault | None = None


def init_app(app) -> None:
    """Build the vault from the app's ENCRYPTION_KEY and make it the active one."""
    global _vault
    vault = Vault(app.config["ENCRYPTION_KEY"])
    app.extensions["vault"] = vault
    _vault = vault


def current_vault() -> Vault:
    """The vault of the current Flask app (or the last one built, outside a request)."""
    if has_app_context() and "vault" in current_app.extensions:
        return current_app.extensions["vault"]
    if _vault is None:
        raise KeyConfigError("no ENCRYPTION_KEY configured (create_app was not called)")
    return _vault


class EncryptedText(sa.types.TypeDecorator):
    """A text column holding Fernet ciphertext; Python sees the plaintext.

    `label` names the column in errors ("mpesa_channels.consumer_secret").
    """

    impl = sa.Text
    cache_ok = True

    def __init__(self, label: str = "secret", *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.label = label

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        if value is None:
            return None
        return current_vault().encrypt(value)

    def process_result_value(self, value: str | None, dialect) -> str | None:
        if value is None:
            return None
        return current_vault().decrypt(value, label=self.label)


# --- API keys and opaque tokens -------------------------------------------------------


def new_api_key() -> str:
    """A new API key: recognisable prefix + 32 random bytes."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """SHA-256 hex of an API key; keys are high-entropy so a fast hash is enough."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_callback_token() -> str:
    """An opaque hex token for callback URLs (hex never contains a forbidden word)."""
    return secrets.token_hex(16)


def new_public_id() -> str:
    """An opaque id naming a merchant in public URLs (its logo and theme): 16 hex digits,
    so the URLs neither count merchants nor hold a forbidden word."""
    return secrets.token_hex(8)


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def sha256_hex(text: str) -> str:
    """SHA-256 hex, as Safaricom hashes payer MSISDNs."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def derive_key(purpose: str, secret: str) -> bytes:
    """A key for one purpose derived from a master secret (never reuse keys across uses)."""
    return hmac.new(secret.encode("utf-8"), purpose.encode("utf-8"), hashlib.sha256).digest()


# --- webhook signatures ------------------------------------------------------------------

WEBHOOK_SECRET_PREFIX = "whsec_"


def new_webhook_secret() -> str:
    """A webhook endpoint's signing secret: recognisable prefix + 32 random bytes."""
    return WEBHOOK_SECRET_PREFIX + secrets.token_urlsafe(32)


def webhook_signature(secret: str, timestamp: int, body: str) -> str:
    """HMAC-SHA256 hex of f"{timestamp}.{body}" under the endpoint's secret, as Stripe
    signs (docs/WEBHOOKS.md): the timestamp inside the MAC stops replays of old bodies."""
    message = f"{timestamp}.{body}".encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


# --- password-reset codes ------------------------------------------------------------------


def new_reset_code() -> tuple[str, str]:
    """A six-digit code, uniformly drawn, and a fresh salt for its digest."""
    return f"{secrets.randbelow(10**6):06d}", secrets.token_hex(16)


def reset_code_digest(code: str, *, salt: str, merchant_id: int) -> str:
    """HMAC-SHA256 of a reset code under a key derived from SECRET_KEY. A million codes
    are too few for a plain hash: without the key, a copy of the table reveals none."""
    key = derive_key("password-reset-code", current_app.config["SECRET_KEY"])
    message = f"{merchant_id}|{salt}|{code}".encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# --- Daraja SecurityCredential ----------------------------------------------------------


def rsa_encrypt_with_certificate(plaintext: str, certificate: bytes) -> str:
    """base64(RSA PKCS#1 v1.5 encryption of `plaintext` with the certificate's public key).

    This is how Daraja wants the initiator password (DARAJA.md 7). The certificate may be
    PEM or DER. Padding is random, so every call gives a different, equally valid string.
    Errors describe the certificate, never the plaintext.
    """
    try:
        if b"-----BEGIN" in certificate:
            cert = x509.load_pem_x509_certificate(certificate)
        else:
            cert = x509.load_der_x509_certificate(certificate)
    except ValueError:
        raise ValueError("the certificate is neither a PEM nor a DER X.509 certificate") from None
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("the certificate does not hold an RSA public key")
    data = plaintext.encode("utf-8")
    if len(data) > public_key.key_size // 8 - 11:  # PKCS#1 v1.5 needs 11 bytes of padding
        raise ValueError(f"the value is too long for a {public_key.key_size}-bit RSA key")
    return base64.b64encode(public_key.encrypt(data, padding.PKCS1v15())).decode("ascii")
