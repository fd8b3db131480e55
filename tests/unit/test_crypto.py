"""The vault: MultiFernet encryption, rotation and errors that never leak a secret."""

import pytest

from loyalty import crypto
from loyalty.crypto import KeyConfigError, SecretDecryptionError, Vault

OLD = crypto.generate_key()
NEW = crypto.generate_key()


def test_ciphertext_does_not_contain_the_plaintext():
    token = Vault(OLD).encrypt("super-secret-consumer-secret")
    assert "super-secret" not in token
    assert Vault(OLD).decrypt(token) == "super-secret-consumer-secret"


def test_first_key_encrypts_and_every_key_decrypts():
    old_token = Vault(OLD).encrypt("s3cret")
    both = Vault(f"{NEW},{OLD}")
    assert both.decrypt(old_token) == "s3cret"
    assert not both.is_current(old_token)
    rotated = both.rotate(old_token)
    assert both.is_current(rotated)
    assert Vault(NEW).decrypt(rotated) == "s3cret"


def test_wrong_key_names_the_column_and_never_the_secret():
    token = Vault(OLD).encrypt("s3cret-value")
    with pytest.raises(SecretDecryptionError) as caught:
        Vault(NEW).decrypt(token, label="mpesa_channels.consumer_secret")
    message = str(caught.value)
    assert "mpesa_channels.consumer_secret" in message
    assert "s3cret" not in message and token not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_malformed_key_is_reported_by_position_not_value():
    with pytest.raises(KeyConfigError) as caught:
        Vault(f"{OLD},not-a-real-key-value")
    assert "#2" in str(caught.value) and "not-a-real-key-value" not in str(caught.value)
    with pytest.raises(KeyConfigError):
        Vault(" , ")


def test_api_keys_are_stored_as_hashes():
    key = crypto.new_api_key()
    assert key.startswith("mpl_") and len(key) > 40
    digest = crypto.hash_api_key(key)
    assert len(digest) == 64 and key not in digest
    assert crypto.hash_api_key(key) == digest and crypto.new_api_key() != key


def test_callback_tokens_are_hex_and_unique():
    tokens = {crypto.new_callback_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 32 and int(t, 16) >= 0 for t in tokens)
