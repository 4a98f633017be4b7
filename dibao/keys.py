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
