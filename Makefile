# sdds — build, test and demo. Everything needed is installed by these targets.
SHELL := bash
CARGO ?= cargo
WAREHOUSE ?= warehouse
SDDS = $(or $(CARGO_TARGET_DIR),target)/debug/sdds

.PHONY: build test demo fmt lint toolchain clean

toolchain:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)"; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy 2>/dev/null || true

build: toolchain
	$(CARGO) build --locked

# Unit, integration and end-to-end tests (debug build; no network beyond loopback).
# Ends with one total line over every test binary.
test: toolchain
	@mkdir -p target
	@set -o pipefail; $(CARGO) test --locked --workspace 2>&1 | tee target/test.log; status=$$?; \
	  awk '/^test result:/ { p += $$4; f += $$6 } END { printf "%d passed, %d failed\n", p, f }' target/test.log; \
	  exit $$status

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
