# sdds — build, test and demo. Everything needed is installed by these targets.
SHELL := bash
CARGO ?= cargo
WAREHOUSE ?= warehouse
SDDS = $(or $(CARGO_TARGET_DIR),target)/debug/sdds

.PHONY: build test demo fmt lint toolchain clean bench bench-smoke bench-env interop psql serve-check chromium dashboard-check

toolchain:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)"; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy 2>/dev/null || true

build: toolchain
	$(CARGO) build --locked

# psql, which the tests of `sdds serve` drive (Debian's postgresql-client), installed if missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
psql:
	@command -v psql >/dev/null || { echo "installing postgresql-client (psql)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql-client >/dev/null; }

# Unit, integration and end-to-end tests (debug build; no network beyond loopback),
# ending with one total line over every test binary; then the benchmark's smoke run.
test: toolchain psql
	@mkdir -p target
	@set -o pipefail; $(CARGO) test --locked --workspace 2>&1 | tee target/test.log; status=$$?; \
	  awk '/^test result:/ { p += $$4; f += $$6 } END { printf "%d passed, %d failed\n", p, f }' target/test.log; \
	  exit $$status
	@$(MAKE) --no-print-directory bench-smoke
	@$(MAKE) --no-print-directory interop
	@$(MAKE) --no-print-directory serve-check
	@$(MAKE) --no-print-directory dashboard-check

# The benchmark's Python side (DuckDB, sqlglot, Polars) in bench/.venv, pinned by bench/requirements.txt.
BENCH_PY = bench/.venv/bin/python
$(BENCH_PY): bench/requirements.txt
	python3 -m venv bench/.venv
	bench/.venv/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	@touch $(BENCH_PY)
bench-env: $(BENCH_PY)

# sdds vs DuckDB and Polars at 1x, 3x and 10x a real seller's size (release build; hours).
# SCALES=1 for one scale only; AWS_SQL_DIR=<aws-marketplace-api-samples>/seller-data-feeds/queries
# adds AWS's example SQL. Writes bench/RESULTS.md. See bench/README.md.
# DuckDB needs about 13 GB per 1x for the two largest AWS reports: at 10x it runs out of
# memory on a 24 GB machine, so by default it runs the queries at 1x and 3x only.
SCALES ?= 1,3,10
DUCKDB_SCALES ?= 1,3
bench: toolchain $(BENCH_PY)
	$(CARGO) build --locked --release --workspace --bins
	$(BENCH_PY) bench/bench.py --sdds $(or $(CARGO_TARGET_DIR),target)/release/sdds \
	  --gen $(or $(CARGO_TARGET_DIR),target)/release/sdds-gen --scales $(SCALES) --duckdb-scales $(DUCKDB_SCALES)

# The same pipeline on 4 000 events with the debug build: every stage runs, the oracle checks itself.
bench-smoke: toolchain $(BENCH_PY)
	$(CARGO) build --locked --workspace --bins
	$(BENCH_PY) bench/test_oracle.py
	$(BENCH_PY) bench/bench.py --smoke --sdds $(SDDS) --gen $(or $(CARGO_TARGET_DIR),target)/debug/sdds-gen

# Other engines read what sdds writes: the deltalake package, Polars and DuckDB (from PyPI, in
# interop/.venv) each read every table of a synced warehouse, before and after `sdds optimize`,
# with sdds's row counts and money totals. See interop/check.py.
INTEROP_PY = interop/.venv/bin/python
$(INTEROP_PY): interop/requirements.txt
	python3 -m venv interop/.venv
	interop/.venv/bin/pip install --quiet --disable-pip-version-check -r interop/requirements.txt
	@touch $(INTEROP_PY)
interop: toolchain $(INTEROP_PY)
	$(CARGO) build --locked --workspace --bins
	$(INTEROP_PY) interop/check.py --sdds $(SDDS) --gen $(or $(CARGO_TARGET_DIR),target)/debug/sdds-gen

# psycopg (from PyPI, in interop/.venv) queries `sdds serve`: bound parameters, exact decimals,
# catalog, refusals, 20 concurrent clients. See interop/serve_check.py.
serve-check: toolchain psql $(INTEROP_PY)
	$(CARGO) build --locked --workspace --bins
	$(INTEROP_PY) interop/serve_check.py --sdds $(SDDS)

# Chromium, which the dashboard's browser check drives (Debian's package), installed if missing.
chromium:
	@command -v chromium >/dev/null || { echo "installing chromium"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# The dashboard of the sample in headless Chromium (Playwright from PyPI, in interop/.venv), network
# off: no console error, no request, five sections; screenshots in target/dashboard/.
dashboard-check: toolchain chromium $(INTEROP_PY)
	$(CARGO) build --locked --workspace --bins
	$(INTEROP_PY) interop/dashboard_check.py --sdds $(SDDS) --out $(or $(CARGO_TARGET_DIR),target)/dashboard

# Sync the bundled sample feeds into ./warehouse and show a few results.
demo: build
	$(SDDS) sync --warehouse $(WAREHOUSE)
	$(SDDS) status --warehouse $(WAREHOUSE)
	$(SDDS) query --warehouse $(WAREHOUSE) "SELECT coalesce(broker_id, '(none)') AS broker_id, currency, count(*) AS events, sum(amount) AS total FROM billingeventfeed_v1 GROUP BY 1, 2 ORDER BY 1, 2"
	$(SDDS) query --warehouse $(WAREHOUSE) "SELECT transaction_type, action, sum(amount) AS total FROM billingeventfeed_v1 GROUP BY 1, 2 ORDER BY 1, 2"

fmt: toolchain
	$(CARGO) fmt --all

lint: toolchain
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf $(WAREHOUSE)
