# sdds — build, test and demo. Everything needed is installed by these targets.
CARGO ?= cargo
WAREHOUSE ?= warehouse
SDDS = target/debug/sdds

.PHONY: build test demo fmt lint toolchain clean

toolchain:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)"; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy 2>/dev/null || true

build: toolchain
	$(CARGO) build --locked

# Unit, integration and end-to-end tests (debug build; no network beyond loopback).
test: toolchain
	$(CARGO) test --locked --workspace

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
