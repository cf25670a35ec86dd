# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV := python3 -m uv
INTEROP := tests/interop

.PHONY: run test lint format bench env interop-deps translations messages clean demo-app

# The environment: uv creates .venv from uv.lock (prebuilt dlib-bin, never a dlib build).
$(VENV)/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen --quiet
	@touch $@

# The customer pages' translations (Kazakh, Russian), compiled from the .po files.
PO_FILES := $(wildcard consent_ui/translations/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)
%.mo: %.po $(VENV)/.synced
	@$(VENV)/bin/pybabel -q compile -i $< -o $@

translations: $(MO_FILES)

env: $(VENV)/.synced translations

# After changing page texts: extract them and merge into kk/ru (then translate the new entries).
messages: $(VENV)/.synced
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -o consent_ui/translations/messages.pot --no-location --omit-header --sort-output .
	$(VENV)/bin/pybabel update -i consent_ui/translations/messages.pot -d consent_ui/translations --no-fuzzy-matching --ignore-obsolete

# The independent client used by tests/interop (openid-client from npm).
$(INTEROP)/node_modules/.installed: $(INTEROP)/package.json $(INTEROP)/package-lock.json
	cd $(INTEROP) && npm ci --no-audit --no-fund --silent
	@touch $@

interop-deps: $(INTEROP)/node_modules/.installed

run: env
	@$(VENV)/bin/senim db upgrade
	@$(VENV)/bin/senim demo seed
	@$(VENV)/bin/senim demo up

test: env interop-deps
	$(PY) -m pytest $(PYTEST_ARGS)

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: env
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: env
	$(PY) bench/token_endpoint.py
	$(PY) bench/biometrics.py
	$(PY) bench/proxy.py
	$(PY) bench/sandbox.py
	$(PY) bench/billing.py

clean:
	rm -rf $(VENV) $(INTEROP)/node_modules .pytest_cache .ruff_cache

# Qarjy, the demo API user's app (demo_app/), next to a running `make run`: http://127.0.0.1:8080
demo-app: env
	@$(PY) -m demo_app --platform http://127.0.0.1:8000 --port 8080 \
		--key-file instance/demo/demo-app-private.jwk.json --banks "$$($(VENV)/bin/senim demo banks)"
