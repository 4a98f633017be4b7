"""Encryption at rest for the numbers that identify or pay a person: resident ID numbers and payment accounts.

* :class:`EncryptedString` is a column type: values are encrypted on the way into the database and decrypted on
  the way out, so the rest of the code reads and assigns plain strings. The stored text names its scheme:

  - ``enc2:<base64 of nonce + ciphertext + tag>`` — AES-256-GCM with a fresh random 96-bit nonce each time
    (authenticated: a changed byte does not decrypt). Everything written now.
  - ``enc1:<token>`` — Fernet (AES-128-CBC + HMAC-SHA256), what was written before ``enc2``. Still read: no
    migration rewrites them; a value becomes ``enc2`` when it is next written. AES-GCM costs a fifth of Fernet
    per value, which matters to an import that encrypts 40,000 of them.
  - no prefix — written before encryption was introduced; read as it is (the migration that introduced
    encryption rewrote all of them).

* :func:`blind_index` is a keyed hash (HMAC-SHA256) of the normalised value, kept in a column beside it: equality
  lookups ("is this ID number already on file?") use it, because the ciphertext is different every time.

The key lives outside the database: ``DIBAO_DATA_KEY`` (44 URL-safe base64 characters, from
``Fernet.generate_key()``) or the file ``instance/data_key``, created on first start with mode 600. Fernet
uses it as it is; the AES-GCM key and the blind index key are derived from it (HMAC-SHA256 with a label each),
so one secret opens every scheme. A backup of the database is useless without it, and useless with it alone:
keep both, apart (docs/operations.md). ``dibao keys rotate-data`` (dibao.datakey) replaces it: every value
re-encrypted and every blind index recomputed under a new key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

PREFIX = "enc2:"  # what encrypt writes (AES-256-GCM)
FERNET_PREFIX = "enc1:"  # written before enc2; still decrypted
_NONCE = 12

_current: DataKey | None = None  # the process's key (use_key)


class KeyMissing(RuntimeError):
    """No data key installed, or one that does not open the stored values."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a data key (None when it is one): Fernet's format, 44 URL-safe base64 characters for 32
    bytes. Strict, because the decoder Fernet uses skips characters it does not know."""
    if not isinstance(key, str) or len(key) != 44 or not all(c.isascii() and (c.isalnum() or c in "-_=")
                                                             for c in key):
        return "a data key is 44 characters of URL-safe base64 (A-Z a-z 0-9 - _, ending in =)"
    try:
        raw = base64.b64decode(key.encode(), altchars=b"-_", validate=True)
    except binascii.Error:
        return "a data key is 44 characters of URL-safe base64 (A-Z a-z 0-9 - _, ending in =)"
    if len(raw) != 32 or base64.urlsafe_b64encode(raw).decode() != key:
        return "a data key decodes to exactly 32 bytes"
    return None


class DataKey:
    """One data key and the keys derived from it. The process uses one (:func:`use_key`); rotating the key
    (dibao.datakey) holds the old and the new one side by side."""

    __slots__ = ("aead", "fernet", "id", "index_mac")

    def __init__(self, key: str):
        raw = base64.urlsafe_b64decode(key.encode())
        self.fernet = Fernet(key.encode())
        # Keys for AES-GCM and for the blind index, derived so that neither reveals anything about the other.
        self.aead = AESGCM(hmac.new(raw, b"dibao aes-gcm v2", hashlib.sha256).digest())
        index_key = hmac.new(raw, b"dibao blind index v1", hashlib.sha256).digest()
        self.index_mac = hmac.new(index_key, digestmod=hashlib.sha256)  # copied for each value
        # A public name for the key (audit events, the operator's output), which says nothing about it.
        self.id = hmac.new(raw, b"dibao data key id", hashlib.sha256).hexdigest()[:16]

    def encrypt(self, value: str) -> str:
        nonce = os.urandom(_NONCE)
        return PREFIX + base64.urlsafe_b64encode(nonce + self.aead.encrypt(nonce, value.encode(), None)).decode()

    def decrypt(self, stored: str) -> str:
        """The plain text of a stored value, whichever scheme wrote it (see the module docstring)."""
        if stored.startswith(PREFIX):
            try:
                sealed = base64.urlsafe_b64decode(stored[len(PREFIX):].encode())
                return self.aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], None).decode()
            except (InvalidTag, binascii.Error, ValueError):
                raise KeyMissing("a stored value does not decrypt with this data key (wrong DIBAO_DATA_KEY?)") \
                    from None
        if stored.startswith(FERNET_PREFIX):
            try:
                return self.fernet.decrypt(stored[len(FERNET_PREFIX):].encode()).decode()
            except InvalidToken:
                raise KeyMissing("a stored value does not decrypt with this data key (wrong DIBAO_DATA_KEY?)") \
                    from None
        return stored

    def blind_index(self, value: str | None) -> str | None:
        if value is None:
            return None
        mac = self.index_mac.copy()  # a third cheaper than keying a new HMAC: an import hashes every ID number
        mac.update(value.encode())
        return mac.hexdigest()


def use_key(key: str) -> None:
    """Install the process's data key (the app factory does it from DATA_KEY)."""
    global _current
    _current = DataKey(key)


def _require() -> DataKey:
    if _current is None:
        raise KeyMissing("no data key installed (create the app first, or call dibao.crypto.use_key)")
    return _current


def encrypt(value: str) -> str:
    return _require().encrypt(value)


def decrypt(stored: str) -> str:
    """The plain text of a stored value, whichever scheme wrote it (see the module docstring)."""
    if not stored.startswith((PREFIX, FERNET_PREFIX)):
        return stored  # from before encryption: readable without a key, as it always was
    return _require().decrypt(stored)


def blind_index(value: str | None) -> str | None:
    """The keyed hash of a value for equality lookups (None stays None). Callers normalise first."""
    if value is None:
        return None
    return _require().blind_index(value)


class EncryptedString(TypeDecorator):
    """A string column stored encrypted (see the module docstring)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return encrypt(str(value))

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return decrypt(value)
