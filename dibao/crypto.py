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
keep both, apart (docs/operations.md).
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

_fernet: Fernet | None = None
_aead: AESGCM | None = None
_index_mac: Any = None  # the blind index's HMAC with its key already absorbed: copied for each value


class KeyMissing(RuntimeError):
    """No data key installed, or one that does not open the stored values."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def use_key(key: str) -> None:
    """Install the process's data key (the app factory does it from DATA_KEY)."""
    global _fernet, _aead, _index_mac
    raw = base64.urlsafe_b64decode(key.encode())
    _fernet = Fernet(key.encode())
    # Keys for AES-GCM and for the blind index, derived so that neither reveals anything about the other.
    _aead = AESGCM(hmac.new(raw, b"dibao aes-gcm v2", hashlib.sha256).digest())
    index_key = hmac.new(raw, b"dibao blind index v1", hashlib.sha256).digest()
    _index_mac = hmac.new(index_key, digestmod=hashlib.sha256)


def _require() -> tuple[Fernet, AESGCM, Any]:
    if _fernet is None or _aead is None or _index_mac is None:
        raise KeyMissing("no data key installed (create the app first, or call dibao.crypto.use_key)")
    return _fernet, _aead, _index_mac


def encrypt(value: str) -> str:
    _, aead, _ = _require()
    nonce = os.urandom(_NONCE)
    return PREFIX + base64.urlsafe_b64encode(nonce + aead.encrypt(nonce, value.encode(), None)).decode()


def decrypt(stored: str) -> str:
    """The plain text of a stored value, whichever scheme wrote it (see the module docstring)."""
    if stored.startswith(PREFIX):
        _, aead, _ = _require()
        try:
            sealed = base64.urlsafe_b64decode(stored[len(PREFIX):].encode())
            return aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], None).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise KeyMissing("a stored value does not decrypt with this data key (wrong DIBAO_DATA_KEY?)") from None
    if stored.startswith(FERNET_PREFIX):
        fernet, _, _ = _require()
        try:
            return fernet.decrypt(stored[len(FERNET_PREFIX):].encode()).decode()
        except InvalidToken:
            raise KeyMissing("a stored value does not decrypt with this data key (wrong DIBAO_DATA_KEY?)") from None
    return stored


def blind_index(value: str | None) -> str | None:
    """The keyed hash of a value for equality lookups (None stays None). Callers normalise first."""
    if value is None:
        return None
    _, _, keyed = _require()
    mac = keyed.copy()  # a third cheaper than keying a new HMAC: an import hashes every ID number
    mac.update(value.encode())
    return mac.hexdigest()


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
