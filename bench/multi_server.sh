#!/usr/bin/env bash
# Issue 13: nginx (Debian package, installed when missing) in front of two gunicorn instances on PostgreSQL and
# Redis, on this machine: objection load and kiosk polls through nginx while one instance restarts.
# Needs PostgreSQL on 127.0.0.1:5432 (BENCH_PG=postgresql+psycopg://user@host:port) and redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
  $SUDO apt-get install -y -qq nginx-light || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nginx-light; }
fi
command -v redis-server >/dev/null || { echo "redis-server is needed (apt-get install redis-server)"; exit 1; }
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
exec "$PY" bench/multi_server.py "$@"
