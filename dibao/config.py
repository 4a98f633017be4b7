"""Configuration from the environment (see the table in README.md)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from dibao import crypto, keys

# Interface languages; Chinese is the source language of every message.
LOCALES = ("zh_CN", "en")

# The demo county's published password (README, `make run`); a production deployment refuses it at login.
DEMO_PASSWORD = "dibao-demo-2026"  # noqa: S105 - public on purpose, for the demo accounts only

def from_environment(instance_path: Path) -> dict:
    database_url = os.environ.get("DIBAO_DATABASE_URL") or f"sqlite:///{instance_path / 'dibao.sqlite3'}"
    media = os.environ.get("DIBAO_MEDIA_DIR") or str(instance_path / "media")
    redis_url = os.environ.get("DIBAO_REDIS_URL") or None
    env = (os.environ.get("DIBAO_ENV") or "development").strip().lower()
    return {
        "SECRET_KEY": keys.instance_key(instance_path, "secret_key", os.environ.get("DIBAO_SECRET_KEY"),
                                        lambda: secrets.token_urlsafe(48)),
        # Encrypts ID numbers and payment accounts at rest (dibao.crypto); kept outside the database.
        "DATA_KEY": keys.instance_key(instance_path, "data_key", os.environ.get("DIBAO_DATA_KEY"), crypto.new_key),
        "DATABASE_URL": database_url,
        "PUBLIC_URL": (os.environ.get("DIBAO_PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/"),
        "TIMEZONE": os.environ.get("DIBAO_TIMEZONE") or "Asia/Shanghai",
        "MEDIA_DIR": media,
        # Uploaded import files, finished exports and (without Redis) the task queue's SQLite file (dibao.jobs).
        "JOBS_DIR": os.environ.get("DIBAO_JOBS_DIR") or str(instance_path / "jobs"),
        "REDIS_URL": redis_url,
        "HOTLINE": os.environ.get("DIBAO_HOTLINE") or "12349",
        # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (rate limits key on the
        # client address, so behind nginx this must be set or every resident shares one limit).
        "PROXY_COUNT": int(os.environ.get("DIBAO_PROXY_COUNT") or 0),
        # Staff sessions end after this much inactivity (checked on the server with the app clock).
        "STAFF_IDLE_TIMEOUT": timedelta(minutes=int(os.environ.get("DIBAO_IDLE_MINUTES") or 30)),
        # Sessions also end this long after login, however busy (the server keeps each session: dibao.accounts).
        "STAFF_SESSION_LIFETIME": timedelta(hours=float(os.environ.get("DIBAO_SESSION_HOURS") or 12)),
        # Failed logins allowed per account name / per client address before each retry waits 2^k seconds.
        "LOGIN_FREE_FAILURES": 5,
        "LOGIN_FREE_FAILURES_PER_CLIENT": 20,
        "LOGIN_MAX_DELAY": timedelta(hours=1),
        # Limits are shared by every worker and server: through Redis when configured, else the database.
        "RATELIMIT_STORAGE_URI": redis_url or "dibao+db://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Public objection/report forms, per client address (Flask-Limiter syntax; the load bench raises it).
        "FEEDBACK_RATE_LIMIT": os.environ.get("DIBAO_FEEDBACK_RATE_LIMIT") or "10 per minute;60 per hour",
        # An open objection holds its case: one client may hold at most this many entries with open objections
        # filed within a day (dibao.feedback.check_hold); 0 turns the cap off.
        "OBJECTION_HOLD_CAP": int(os.environ.get("DIBAO_OBJECTION_HOLD_CAP") or 5),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("DIBAO_SECURE_COOKIES", "0") == "1",
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session; idle expiry ends both
        "MAX_CONTENT_LENGTH": 24 * 1024 * 1024,  # a 20 MB phone photo (dibao.media) and its form
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("DIBAO_TIMEZONE") or "Asia/Shanghai",
        # Which notice rounds a deployment uses; the seed's county uses all three (DESIGN.md).
        "NOTICE_LEVELS": tuple(
            (os.environ.get("DIBAO_NOTICE_LEVELS") or "community,town,county").replace(" ", "").split(",")
        ),
        "NOTICE_WINDOW_DAYS": int(os.environ.get("DIBAO_NOTICE_WINDOW_DAYS") or 7),
        # Seconds between the app's own notice sweeps (dibao.sweep); 0 = off (run `dibao notices sweep` from cron).
        "SWEEP_INTERVAL": float(os.environ.get("DIBAO_SWEEP_INTERVAL") or 60),
        # The audit chain is keyed (HMAC-SHA256) with a secret kept outside the database, and its count and
        # head are written to an append-only file outside the database (dibao.audit, docs/operations.md).
        "AUDIT_KEY": keys.instance_key(instance_path, "audit_key", os.environ.get("DIBAO_AUDIT_KEY"),
                                       lambda: secrets.token_urlsafe(48)),
        # Keys that signed earlier stretches of the chain (dibao audit rotate-key keeps the old one here).
        "AUDIT_RETIRED_KEYS": keys.retired_keys(instance_path, "retired_audit_key",
                                                os.environ.get("DIBAO_AUDIT_RETIRED_KEYS")),
        "AUDIT_CHECKPOINTS": os.environ.get("DIBAO_AUDIT_CHECKPOINTS") or str(instance_path / "audit-checkpoints.log"),
        "AUDIT_CHECKPOINT_MINUTES": float(os.environ.get("DIBAO_AUDIT_CHECKPOINT_MINUTES") or 10),
        # "production" refuses the demo's published password at login and refuses `dibao seed-demo` outright.
        "ENV": env,
        "REFUSED_PASSWORDS": (DEMO_PASSWORD,) if env == "production" else (),
        # Where pg_dump/pg_restore live when they are not on PATH (e.g. /usr/lib/postgresql/15/bin).
        "PG_BINDIR": os.environ.get("DIBAO_PG_BINDIR") or None,
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
        # Public boards, kiosk slides, API answers and the home page rendered once per ETag (dibao.cache):
        # in process, and in Redis too with DIBAO_REDIS_URL. 0 turns it off.
        "PUBLIC_CACHE": os.environ.get("DIBAO_PUBLIC_CACHE", "1") != "0",
        "PUBLIC_CACHE_BYTES": int(os.environ.get("DIBAO_PUBLIC_CACHE_MB") or 32) * 1024 * 1024,
        # Working days community staff have to accept or return an online application (网上申请).
        "APPLICATION_WORKING_DAYS": int(os.environ.get("DIBAO_APPLICATION_WORKING_DAYS") or 3),
        # Days a closed objection's or report's contact and photos, and a returned online application's ID numbers,
        # phones and photos, are kept once their purpose ended (told / decided / returned); then dibao.retention
        # erases them (PIPL Art. 47). 185 covers the 60-day window for 行政复议 (行政复议法 Art. 20) and the
        # 6 months for 行政诉讼 (行政诉讼法 Art. 46: 6 calendar months can be 184 days).
        "RETENTION_DAYS": max(0, int(os.environ.get("DIBAO_RETENTION_DAYS") or 185)),
    }
