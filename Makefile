# Two commands do everything: `make run` (the app on SQLite with in-process tasks) and
# `make test` (the whole suite on real PostgreSQL and Redis).

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
PORT ?= 5000
export FLASK_APP := wsgi.py

.PHONY: run test venv services lint worker beat clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/flask db upgrade
	@echo "M-Pesa Loyalty on http://127.0.0.1:$(PORT)  (API docs: http://127.0.0.1:$(PORT)/api/docs)"
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

services:
	@scripts/ensure-services.sh

test: venv services
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check loyalty tasks tests

clean:
	rm -rf $(VENV) instance/loyalty.sqlite3
