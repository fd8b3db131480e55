# Two commands do everything: `make run` (the app on SQLite with in-process tasks) and
# `make test` (the whole suite on real PostgreSQL and Redis).

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
PORT ?= 5000
export FLASK_APP := wsgi.py

.PHONY: run test venv services lint readme worker beat clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

# `make run`: the app on SQLite with in-process tasks and the local Daraja + SMS emulator
# mounted, so a payment can be simulated end to end (docs/DEMO.md). The demo seed verifies
# and registers its channel against that emulator, so it runs once the server answers:
# server in the background, wait for /healthz, `flask demo seed`, then wait on the server.
# Ctrl-C (or a TERM to make) stops the server. Any of these may be set in the environment.
run demo-seed demo-pay demo-reconcile: export DARAJA_EMULATOR ?= 1
run demo-seed demo-pay demo-reconcile: export DARAJA_SANDBOX_URL ?= http://127.0.0.1:$(PORT)/_emulator/daraja
run demo-seed demo-pay demo-reconcile: export AT_BASE_URL ?= http://127.0.0.1:$(PORT)/_emulator/sms
run demo-seed demo-pay demo-reconcile: export SMS_BACKEND ?= africastalking
run demo-seed demo-pay demo-reconcile: export AT_API_KEY ?= demo
run demo-seed demo-pay demo-reconcile: export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
# Africa's Talking's callbacks (delivery reports, STOP): the emulator posts them back here.
run demo-seed demo-pay demo-reconcile: export SMS_CALLBACK_TOKEN ?= demo-sms-callbacks
# The demo's sandbox PayBill texts whoever pays it (the emulator's inbox): a development
# run is the platform's own, so its sandbox may text any number (the default is restricted).
run demo-seed demo-pay demo-reconcile: export SANDBOX_SMS_POLICY ?= open
# A page that starts a Safaricom step answers at once and polls (tasks run in a thread).
run: export TASKS_IN_THREAD ?= 1

run: venv
	$(BIN)/flask db upgrade
	@set -u; \
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT) --with-threads & server=$$!; \
	trap 'kill $$server 2>/dev/null; wait $$server 2>/dev/null; exit 0' INT TERM; \
	trap 'kill $$server 2>/dev/null' EXIT; \
	up=0; for i in $$(seq 1 100); do \
	  kill -0 $$server 2>/dev/null || break; \
	  if $(BIN)/python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$(PORT)/healthz', timeout=1)" 2>/dev/null; \
	  then up=1; break; fi; sleep 0.2; \
	done; \
	if [ $$up != 1 ]; then echo "The app did not start on port $(PORT) (is the port taken? try make run PORT=5050)." >&2; exit 1; fi; \
	$(BIN)/flask demo seed || { echo "The demo seed failed; the app keeps running without it." >&2; }; \
	echo ""; \
	echo "M-Pesa Loyalty on http://127.0.0.1:$(PORT)  (API docs /api/docs, emulator /_emulator/)"; \
	echo "Try, in another shell:"; \
	echo "  make demo-pay                    # KES 5,000 to account VIP001 from 0712345678, prints the SMS"; \
	echo "  make demo-pay AMOUNT=300 ACCOUNT=DELIVERY"; \
	echo "  make demo-reconcile              # a payment whose confirmation is lost, recovered by reconciliation"; \
	echo "  curl -s http://127.0.0.1:$(PORT)/_emulator/sms/inbox"; \
	echo "Ctrl-C stops the app."; \
	wait $$server

# Seed again (a new API key) while `make run` is up.
demo-seed: venv
	$(BIN)/flask demo seed

# A customer pays the demo PayBill while `make run` is up: make demo-pay AMOUNT=300 ACCOUNT=X
demo-pay: AMOUNT = 5000
demo-pay: ACCOUNT = VIP001
demo-pay: PHONE = 0712345678
demo-pay: NAME = John
demo-pay: venv
	$(BIN)/flask demo pay --amount $(AMOUNT) --account $(ACCOUNT) --phone $(PHONE) --name $(NAME)

# A payment whose confirmation is lost on the way (Safaricom does not retry), recovered by a
# Pull Transactions reconciliation and texted, while `make run` is up (docs/DEMO.md).
demo-reconcile: AMOUNT = 5000
demo-reconcile: ACCOUNT = VIP001
demo-reconcile: PHONE = 0712345678
demo-reconcile: NAME = John
demo-reconcile: venv
	$(BIN)/flask demo reconcile --amount $(AMOUNT) --account $(ACCOUNT) --phone $(PHONE) --name $(NAME)

.PHONY: demo-seed demo-pay demo-reconcile

services:
	@scripts/ensure-services.sh

test: venv services
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check loyalty tasks tests

# README.md's configuration table, written from the settings table in loyalty/config.py.
readme: venv
	$(BIN)/python -m loyalty.config README.md

clean:
	rm -rf $(VENV) instance/loyalty.sqlite3

# `make bench`: the benchmarks of bench/README.md: the platform against bare baselines in
# the same run, loopback only, bounded (about 10 minutes); prints ratios against the
# targets. Installs wrk (Debian) if it is missing; BENCH_ARGS="--quick" for a short run.
bench: venv services
	@command -v wrk >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)

.PHONY: bench
