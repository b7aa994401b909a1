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

# The end-to-end tests mostly wait on Telegram's pacing (1 message/s per chat, emulated), so
# they run in 4 processes even on 2 cores; a file's tests stay in one process. Tests marked
# solo (zero 429s at full broadcast rate, the real browser) then run alone: their timing is
# what they check.
WORKERS ?= 4
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile -m "not solo"
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
