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
# tests are handed out one by one (each has its own database and emulator). Then the tests
# marked apart (two `paotui run` processes killed and restarted: mostly waiting for a lease to
# run out) side by side, and those marked solo (zero 429s and the broadcast rate at Telegram's
# own speed, a busy neighbour of its own, the real browser) alone: their timing is what they check.
# Three workers on two cores: a worker waits about half the time (HTTP round trips, settle
# polls); measured 0.91x the wall of two on a quiet machine, and green beside a CPU burner.
WORKERS ?= 3
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist load -m "not solo and not apart"
	$(BIN)/python -m pytest -q -n 2 -m apart
	$(BIN)/python -m pytest -q -m solo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Re-extract the translatable strings and merge them into the catalogs.
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ --no-location --sort-output --omit-header \
		-o bot/locales/messages.pot .
	$(BIN)/pybabel update -i bot/locales/messages.pot -d bot/locales -l zh_CN --no-fuzzy-matching

clean:
	rm -rf $(VENV) var .pytest_cache
