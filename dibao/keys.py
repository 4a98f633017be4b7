"""Secrets kept outside the database and the code: from the environment, or a file ``instance/<name>_key`` that
is created once (mode 600) and then read by every worker. ``dibao backup`` takes every such ``*_key`` file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def instance_key(instance_path: Path, filename: str, configured: str | None, generate: Callable[[], str]) -> str:
    """The configured value, or the instance file's (written on first start: two workers starting at once both
    end up with the first one's, because only one hard link can take the name)."""
    if configured:
        return configured
    key_file = instance_path / filename
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    tmp = instance_path / f".{filename}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(generate())
    try:
        os.link(tmp, key_file)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return key_file.read_text().strip()


def retired_keys(instance_path: Path, filename: str, configured: str | None) -> tuple[str, ...]:
    """Keys that signed or sealed something earlier and are kept only to check it: from the environment
    (separated by commas or spaces), or the instance file's lines. Never generated."""
    if configured:
        return tuple(configured.replace(",", " ").split())
    key_file = instance_path / filename
    if not key_file.exists():
        return ()
    return tuple(line.strip() for line in key_file.read_text().splitlines() if line.strip())


def write_private(path: Path, text: str, *, append: bool = False) -> None:
    """Write a key file readable by the service user only, on disk (and named in its folder) before this
    returns: a key that a crash lost while the database already depends on it cannot be recovered."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o600)
    sync_dir(path.parent)


def sync_dir(path: Path) -> None:
    """A folder's entries on disk (after a file was created or renamed in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
