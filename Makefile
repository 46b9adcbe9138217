# imagesvc: `make run` serves the API locally, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint clean bench bench-scale

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(STAMP)

## run: install, bring the SQLite database up to date (a new one gets the example catalog),
##      print the local admin token, serve on 127.0.0.1:8000
run: $(STAMP)
	$(BIN)/imagesvc db upgrade
	@echo "Example catalog (examples/catalog.json, into a new database only): $$($(BIN)/imagesvc catalog import --if-new examples/catalog.json)"
	@echo "Local admin token: $$($(BIN)/imagesvc token local)"
	@echo "Serving imagesvc on http://127.0.0.1:8000 (API under /api, Ctrl-C to stop)"
	$(BIN)/gunicorn wsgi:app

## test: the whole suite, on SQLite and (when it answers) on MySQL/MariaDB, with coverage
test: $(STAMP)
	$(BIN)/pytest --cov --cov-report=term --cov-fail-under=90 $(PYTEST_ARGS)

## lint: ruff
lint: $(STAMP)
	$(BIN)/ruff check imagesvc tests bench wsgi.py gunicorn.conf.py

## fuzz: the Schemathesis contract tests at length: FUZZ_EXAMPLES (300) per operation, seed FUZZ_SEED (new each run)
FUZZ_EXAMPLES ?= 300
FUZZ_SEED ?= $(shell date +%s)
.PHONY: fuzz
fuzz: $(STAMP)
	IMAGESVC_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) IMAGESVC_FUZZ_SEED=$(FUZZ_SEED) $(BIN)/pytest tests/test_schemathesis.py $(PYTEST_ARGS)

## bench: seed BENCH_IMAGES images (100000), load them with wrk beside a bare Flask baseline, the console
##        scenarios (browse, console_mix, live_mix) included; exits 1 when a target is missed (bench/README.md)
bench: $(STAMP)
	$(BIN)/python -m bench.run

## bench-scale: browse and the read scenarios at 10k, 100k and 1M images (BENCH_SCALE_SIZES), p50 and p99
##              and worker RSS per size; exits 1 when browse's p50 grows more than 3x (bench/README.md)
bench-scale: $(STAMP)
	$(BIN)/python -m bench.run --scale

## image: the container image (Containerfile), built with podman, else docker; IMAGE names it,
##        BASE_IMAGE replaces its base (default debian:bookworm-slim)
IMAGE ?= localhost/imagesvc:latest
.PHONY: image image-check
image:
	$(PYTHON) deploy/image.py build --tag $(IMAGE) $(if $(BASE_IMAGE),--base $(BASE_IMAGE))

## image-check: build the image on a local Debian base (debootstrapped once), run it on SQLite then
##              MariaDB, smoke-test it through HTTP, check it runs as non-root with no test dependencies
image-check:
	$(PYTHON) deploy/image.py check

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .coverage build *.egg-info
