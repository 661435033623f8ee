# opendata — the two commands a newcomer runs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Builds are shared between clones (and CI runs) on the same machine; an empty folder works too.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/opendata-target
export CARGO_TERM_COLOR ?= never
BIN := $(CARGO_TARGET_DIR)/debug/opendata
# Python for the client checks (pyarrow, pytest), outside the clone so CI reuses it.
VENV ?= $(HOME)/.cache/opendata-venv
PY := $(VENV)/bin/python
DATA_DIR ?= ./data
ADDR ?= 127.0.0.1:8080

.PHONY: help run test bench bench-tools build publish rust-test client-test fmt lint openapi toolchain venv debs clean

help:
	@echo "make run      build, publish datasets/ into $(DATA_DIR), serve on http://$(ADDR) (docs at /docs)"
	@echo "make test     every test: unit, integration, end-to-end over HTTP, and real-client checks"
	@echo "make fmt      format the code"
	@echo "make lint     rustfmt --check and clippy -D warnings"
	@echo "make openapi  regenerate openapi/openapi.json"
	@echo "make bench    the workloads of shared/bench against opendata, nginx, Datasette, ROAPI (not part of make test)"

toolchain:
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs (rustc 1.95 or newer)"; exit 1; }
	@command -v python3 >/dev/null || { echo "python3 not found: apt-get install python3 python3-venv"; exit 1; }

build: toolchain
	cargo build --locked --workspace --all-targets

publish: build
	$(BIN) publish --data-dir $(DATA_DIR) datasets

run: publish
	$(BIN) serve --data-dir $(DATA_DIR) --addr $(ADDR)

# The client checks' Python environment, rebuilt only when its requirements change.
$(VENV)/.stamp: tests/clients/requirements.txt | debs
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
	touch $@

venv: toolchain debs $(VENV)/.stamp

rust-test: build
	OPENDATA_BIN=$(BIN) cargo test --locked --workspace

# Debian packages of the client checks: curl (the client of the README's publishing examples,
# and `curl -C -`), and ICU's headers with pkg-config and g++ (PyICU is built against them).
CLIENT_DEBS := curl libicu-dev pkg-config g++
debs:
	@dpkg -s $(CLIENT_DEBS) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(CLIENT_DEBS); \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq $(CLIENT_DEBS); fi; }

# `make bench` (not part of `make test`): every workload of shared/bench/WORKLOADS.md against
# opendata, nginx, Datasette and ROAPI in one run; see bench/run.py. DURATION=30 WARMUP=5 by default.
BENCH_VENV ?= $(HOME)/.cache/opendata-bench/venv

$(BENCH_VENV)/.stamp: bench/requirements.txt | bench-tools
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $@

BENCH_DEBS := wrk nginx-light libicu-dev pkg-config g++
bench-tools:
	@dpkg -s $(BENCH_DEBS) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(BENCH_DEBS); \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq $(BENCH_DEBS); fi; }

bench: toolchain bench-tools $(BENCH_VENV)/.stamp
	$(BENCH_VENV)/bin/python bench/run.py

client-test: build venv
	OPENDATA_BIN=$(BIN) $(PY) -m pytest -q tests/clients

test: rust-test client-test

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --locked --workspace --all-targets -- -D warnings

openapi: build
	$(BIN) openapi > openapi/openapi.json

clean:
	rm -rf $(DATA_DIR)
