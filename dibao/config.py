"""Configuration from the environment (see the table in README.md)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from dibao import crypto

# Interface languages; Chinese is the source language of every message.
LOCALES = ("zh_CN", "en")


def _secret_key(instance_path: Path) -> str:
    """DIBAO_SECRET_KEY, or one generated on first start and kept under instance/ (never a constant)."""
    env = os.environ.get("DIBAO_SECRET_KEY")
    if env:
        return env
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(48)
    instance_path.mkdir(parents=True, exist_ok=True)
    tmp = instance_path / f".secret_key.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    try:
        # Two workers starting at once: the first link wins and both use its key.
        os.link(tmp, key_file)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return key_file.read_text().strip()


def from_environment(instance_path: Path) -> dict:
    database_url = os.environ.get("DIBAO_DATABASE_URL") or f"sqlite:///{instance_path / 'dibao.sqlite3'}"
    media = os.environ.get("DIBAO_MEDIA_DIR") or str(instance_path / "media")
    redis_url = os.environ.get("DIBAO_REDIS_URL") or None
    return {
        "SECRET_KEY": _secret_key(instance_path),
        # Encrypts ID numbers and payment accounts at rest (dibao.crypto); kept outside the database.
        "DATA_KEY": crypto.load_key(instance_path, os.environ.get("DIBAO_DATA_KEY")),
        "DATABASE_URL": database_url,
        "PUBLIC_URL": (os.environ.get("DIBAO_PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/"),
        "TIMEZONE": os.environ.get("DIBAO_TIMEZONE") or "Asia/Shanghai",
        "MEDIA_DIR": media,
        "REDIS_URL": redis_url,
        "HOTLINE": os.environ.get("DIBAO_HOTLINE") or "12349",
        # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (rate limits key on the
        # client address, so behind nginx this must be set or every resident shares one limit).
        "PROXY_COUNT": int(os.environ.get("DIBAO_PROXY_COUNT") or 0),
        # Staff sessions end after this much inactivity (checked on the server with the app clock).
        "STAFF_IDLE_TIMEOUT": timedelta(minutes=int(os.environ.get("DIBAO_IDLE_MINUTES") or 30)),
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_LOCKOUT": timedelta(minutes=15),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Public objection/report forms, per client address (Flask-Limiter syntax; the load bench raises it).
        "FEEDBACK_RATE_LIMIT": os.environ.get("DIBAO_FEEDBACK_RATE_LIMIT") or "10 per minute;60 per hour",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("DIBAO_SECURE_COOKIES", "0") == "1",
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session; idle expiry ends both
        "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("DIBAO_TIMEZONE") or "Asia/Shanghai",
        # Which notice rounds a deployment uses; the seed's county uses all three (DESIGN.md).
        "NOTICE_LEVELS": tuple(
            (os.environ.get("DIBAO_NOTICE_LEVELS") or "community,town,county").replace(" ", "").split(",")
        ),
        "NOTICE_WINDOW_DAYS": int(os.environ.get("DIBAO_NOTICE_WINDOW_DAYS") or 7),
        # Seconds between the app's own notice sweeps (dibao.sweep); 0 = off (run `dibao notices sweep` from cron).
        "SWEEP_INTERVAL": float(os.environ.get("DIBAO_SWEEP_INTERVAL") or 60),
        # Notifications (dibao.notify): SMS through an HTTP gateway, e-mail through SMTP; unset = that channel off.
        "SMS_GATEWAY_URL": os.environ.get("DIBAO_SMS_GATEWAY_URL") or None,
        "SMS_GATEWAY_TOKEN": os.environ.get("DIBAO_SMS_GATEWAY_TOKEN") or None,
        "SMS_SIGNATURE": os.environ.get("DIBAO_SMS_SIGNATURE") or "【阳光低保】",
        "SMTP_HOST": os.environ.get("DIBAO_SMTP_HOST") or None,
        "SMTP_PORT": int(os.environ.get("DIBAO_SMTP_PORT") or 25),
        "SMTP_USER": os.environ.get("DIBAO_SMTP_USER") or None,
        "SMTP_PASSWORD": os.environ.get("DIBAO_SMTP_PASSWORD") or None,
        "SMTP_FROM": os.environ.get("DIBAO_SMTP_FROM") or "dibao@localhost",
        "SMTP_SECURITY": os.environ.get("DIBAO_SMTP_SECURITY") or "none",
        # Working days community staff have to accept or return an online application (网上申请).
        "APPLICATION_WORKING_DAYS": int(os.environ.get("DIBAO_APPLICATION_WORKING_DAYS") or 3),
    }
