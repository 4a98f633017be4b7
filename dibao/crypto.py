"""Encryption at rest for the numbers that identify or pay a person: resident ID numbers and payment accounts.

* :class:`EncryptedString` is a column type: values are encrypted (Fernet: AES-128-CBC + HMAC-SHA256, a fresh IV
  each time) on the way into the database and decrypted on the way out, so the rest of the code reads and
  assigns plain strings. Stored text is ``enc1:<token>``; a value without the prefix (written before encryption
  was introduced) is read as it is, and the migration that introduced encryption rewrote all of them.
* :func:`blind_index` is a keyed hash (HMAC-SHA256) of the normalised value, kept in a column beside it: equality
  lookups ("is this ID number already on file?") use it, because the ciphertext is different every time.

The key lives outside the database: ``DIBAO_DATA_KEY`` (44 URL-safe base64 characters, from
``Fernet.generate_key()``) or the file ``instance/data_key``, created on first start with mode 600. A backup
of the database is useless without it, and useless with it alone: keep both, apart (docs/operations.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

PREFIX = "enc1:"

_fernet: Fernet | None = None
_index_key: bytes | None = None


class KeyMissing(RuntimeError):
    """No data key installed, or one that does not open the stored values."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def use_key(key: str) -> None:
    """Install the process's data key (the app factory does it from DATA_KEY)."""
    global _fernet, _index_key
    _fernet = Fernet(key.encode())
    # A second key for the blind index, derived so that the index never reveals anything about the cipher key.
    _index_key = hmac.new(base64.urlsafe_b64decode(key.encode()), b"dibao blind index v1", hashlib.sha256).digest()


def _require() -> tuple[Fernet, bytes]:
    if _fernet is None or _index_key is None:
        raise KeyMissing("no data key installed (create the app first, or call dibao.crypto.use_key)")
    return _fernet, _index_key


def encrypt(value: str) -> str:
    fernet, _ = _require()
    return PREFIX + fernet.encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored
    fernet, _ = _require()
    try:
        return fernet.decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise KeyMissing("a stored value does not decrypt with this data key (wrong DIBAO_DATA_KEY?)") from None


def blind_index(value: str | None) -> str | None:
    """The keyed hash of a value for equality lookups (None stays None). Callers normalise first."""
    if value is None:
        return None
    _, key = _require()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


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
