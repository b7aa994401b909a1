# paotui: `make run` and `make test` work on a fresh machine with nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install migrate lint i18n clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(BIN)/paotui db upgrade

# With PAOTUI_BOT__TOKEN set: talks to Telegram. Without: the local emulator and a demo community.
run: migrate
	$(BIN)/paotui run

# The end-to-end tests run Telegram's limits on a fast clock (tests/conftest.py TIME_SCALE);
# each test has its own database and emulator. First all but those marked solo, in parallel,
# handed out one at a time (--maxschedchunk 1) with the long ones first, so that no worker is
# left finishing a queue of its own while the others idle. Then those marked solo (zero 429s and
# the broadcast rate at Telegram's own speed, a busy neighbour of its own, the real browser)
# alone: their timing is what they check. Five workers on two cores: a worker waits much of the
# time (HTTP round trips, a killed bot's lease running out). Bytecode is cached (the platform
# may set PYTHONDONTWRITEBYTECODE): else each worker and each `paotui run` child compiles the
# project and rewrites the tests again (3-4 s of CPU each).
# --durations prints the slowest tests of each phase: CI must finish within 15 minutes.
# DB=both (the default) runs the parallel phase on SQLite, then again on PostgreSQL: the tests'
# own throwaway server (tests/postgres.py: initdb + pg_ctl on a loopback port, one per worker;
# scripts/ensure-postgres.sh installs Debian's package when the binaries are missing).
# DB=sqlite or DB=postgres for one backend. The solo phase runs on the first backend chosen
# only: it proves pacing at Telegram's speed, not storage. A test that takes the backend as a
# parameter of its own runs in that backend's phase only (tests/conftest.py).
WORKERS ?= 5
DB ?= both
test: $(STAMP)
	sh scripts/ensure-poppler.sh >/dev/null || true  # the poster test's pdftoppm (it skips without)
ifneq ($(DB),postgres)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n $(WORKERS) --dist load --maxschedchunk 1 --durations=12 -m "not solo" --db sqlite
endif
ifneq ($(DB),sqlite)
	sh scripts/ensure-postgres.sh >/dev/null
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n $(WORKERS) --dist load --maxschedchunk 1 --durations=12 -m "not solo" --db postgres
endif
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -m solo --db $(if $(filter postgres,$(DB)),postgres,sqlite)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Re-extract the translatable strings and merge them into the catalogs.
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ -k P_:1,2 --no-location --sort-output --omit-header \
		-o bot/locales/messages.pot .
	$(BIN)/pybabel update -i bot/locales/messages.pot -d bot/locales -l zh_CN --no-fuzzy-matching

clean:
	rm -rf $(VENV) var .pytest_cache
