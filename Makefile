# Sunshine Dibao — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export DIBAO_DATABASE_URL ?=

.PHONY: run test test-sqlite lint bench translations system-deps serve clean axe

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

translations/en/LC_MESSAGES/messages.mo: translations/en/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d translations

# The access log keeps the path, never the query string or the referer: a clerk's search by ID number
# (/admin/cases/?q=…) must not land in a log file (issue 11).
ACCESS_LOG_FORMAT := %(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s

## make run: venv, install, migrate the SQLite database, seed the demo once, serve on http://127.0.0.1:$(PORT)
## with the background-job worker (imports, exports) beside gunicorn; Ctrl-C stops both
# QR codes and kiosk URLs are built on the public URL: by default, where `make run` serves.
run: export DIBAO_PUBLIC_URL ?= http://127.0.0.1:$(PORT)
run: $(VENV)/.installed translations/en/LC_MESSAGES/messages.mo
	$(BIN)/dibao db upgrade
	@if [ ! -f instance/.demo-seeded ]; then $(BIN)/dibao seed-demo && touch instance/.demo-seeded; \
	 else echo "demo data already seeded (delete instance/.demo-seeded to seed again)"; fi
	@echo
	@echo "  Portal:   http://127.0.0.1:$(PORT)/"
	@echo "  Staff:    http://127.0.0.1:$(PORT)/admin/login   (user: admin, password: dibao-demo-2026)"
	@echo "  Kiosks:   $(BIN)/dibao kiosk list   (one display URL per demo community)"
	@echo "  Jobs:     $(BIN)/dibao worker runs beside the web server (imports, exports; queue in instance/jobs/)"
	@echo
	@trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	 $(BIN)/dibao worker & worker=$$!; \
	 $(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers 2 --threads 4 --access-logfile - \
	   --access-logformat '$(ACCESS_LOG_FORMAT)' dibao.wsgi:app

## Debian packages the browser tests need (Chromium and CJK fonts), installed when missing.
system-deps:
	@missing=""; \
	 [ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	 dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing="$$missing fonts-noto-cjk"; \
	 dpkg -s libzbar0 >/dev/null 2>&1 || true; \
	 if [ -n "$$missing" ]; then \
	   echo "installing$$missing"; \
	   SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	   $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	 fi

## make test: venv, dev dependencies, system packages, translations, the whole suite, on every core
## (pytest-xdist; PYTEST_WORKERS=0 runs it in one process)
PYTEST_WORKERS ?= auto
test: $(VENV)/.installed system-deps translations/en/LC_MESSAGES/messages.mo
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

## axe-core for the accessibility scan of the browser tests, from the npm registry (pinned by its lock file)
axe:
	npm ci --no-audit --no-fund --prefix tests/browser/axe

lint: $(VENV)/.installed
	$(BIN)/ruff check .

## make bench: throughput figures (see bench/README.md)
bench: $(VENV)/.installed translations/en/LC_MESSAGES/messages.mo
	$(BIN)/python bench/run.py $(BENCH)

## Re-extract messages and merge them into the catalogues (then translate and commit the .po files)
translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations

clean:
	rm -rf $(VENV) instance/dibao.sqlite3* instance/.demo-seeded instance/audit-checkpoints.log
