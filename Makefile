# pg_marketing: `make demo` and `make test` each work as the first command on a fresh
# Debian machine (as root, or as a user with sudo); both run `make setup` first.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# cargo-pgrx must be the exact version of the pgrx crate in Cargo.toml.
PGRX_VERSION := 0.18.1
PG_MAJOR := 15
PG_CONFIG := /usr/bin/pg_config
PG_BIN := /usr/lib/postgresql/$(PG_MAJOR)/bin
APT_PACKAGES := postgresql-$(PG_MAJOR) postgresql-server-dev-$(PG_MAJOR) libclang-dev sudo python3

# pgrx-config/config.toml points pg15 at the system pg_config: nothing is downloaded.
export PGRX_HOME := $(CURDIR)/pgrx-config
export PATH := $(HOME)/.cargo/bin:$(PATH)

# Clusters run as the postgres user, which cannot enter a private checkout (mktemp -d is
# 0700), so their directories live under /var/tmp.
CLUSTERS ?= /var/tmp/pg_marketing
DEMO_DATA ?= $(CLUSTERS)/demo
DEMO_PORT ?= 5499
DEMO_DB := marketing_demo
DEMO_CUSTOMERS ?= 10000
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
PSQL = psql -X -v ON_ERROR_STOP=1 -U postgres

# The attack suite: seconds of it in `make test`; DURATION and SEED for `make attack`.
ATTACK_SECONDS ?= 45
DURATION ?= 1800
SEED ?= 1

# The PGXN meta spec validator for META.json (make package), built into target/tools.
PGXN_META_VERSION := 0.7.0
PGXN_META := $(CURDIR)/target/tools/bin/pgxn_meta

BENCH_DATA ?= $(CLUSTERS)/bench
BENCH_PORT ?= 5498
SCALE ?= medium
# The benchmark cluster's settings (printed by the runner and recorded in docs/benchmarks.md).
BENCH_SERVER_OPTIONS := -c shared_buffers=2GB -c work_mem=64MB -c max_parallel_workers_per_gather=2

.PHONY: setup test lint unit-test pg-test regress out-of-memory upgrade-test package package-test attack cancel-latency demo install-debug install-release bench

setup:
	@missing=""; \
	for package in $(APT_PACKAGES); do \
	    dpkg -s "$$package" >/dev/null 2>&1 || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "setup: installing$$missing"; \
	    $(SUDO) apt-get update -qq; \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@if [ "$$(cargo pgrx --version 2>/dev/null)" != "cargo-pgrx $(PGRX_VERSION)" ]; then \
	    echo "setup: installing cargo-pgrx $(PGRX_VERSION) (about 5 minutes)"; \
	    cargo install cargo-pgrx --version $(PGRX_VERSION) --locked; \
	fi
	@for component in clippy rustfmt; do \
	    rustup component list --installed 2>/dev/null | grep -q "^$$component" || rustup component add $$component; \
	done
	@echo "setup: $(APT_PACKAGES), cargo-pgrx $(PGRX_VERSION), clippy and rustfmt present"

# All layers, fast ones first; any failure fails the target.
test: setup
	@$(MAKE) --no-print-directory lint unit-test pg-test regress out-of-memory upgrade-test package-test

# 0. Formatting and clippy (the tests included), warnings as errors.
lint:
	@echo "== cargo fmt --check, cargo clippy"
	cargo fmt --check
	cargo clippy --features pg15 --tests -- -D warnings

# 1. Core unit tests: the plain #[test]s of src/core, src/input.rs and src/memory.rs.
unit-test:
	@echo "== core unit tests"
	@mkdir -p target
	cargo test --lib --features pg15 -- core:: input:: memory:: 2>&1 | tee target/unit-test.log
	@grep -E '^test result' target/unit-test.log | head -n 1

# 2. #[pg_test]s inside a temporary cluster that cargo-pgrx starts as postgres.
pg-test:
	@echo "== pg tests"
	@mkdir -p $(CLUSTERS) && chmod 755 $(CLUSTERS)
	@rm -rf $(CLUSTERS)/pg-test && mkdir -p $(CLUSTERS)/pg-test && chown postgres: $(CLUSTERS)/pg-test
	@mkdir -p target
	cargo pgrx test pg15 --runas postgres --pgdata $(CLUSTERS)/pg-test 2>&1 | tee target/pg-test.log
	@grep -E '^test result' target/pg-test.log | head -n 1

# 3. pg_regress over tests/pg_regress in a throwaway cluster, stopped and removed even on
#    failure; then, in the same cluster, the doc tester (the examples of docs/*.md) and a
#    bounded run of the attack suite (tests/attack).
regress: install-debug
	@echo "== pg_regress"
	@dir=$$(mktemp -d $(CLUSTERS)/regress.XXXXXX); \
	trap 'tests/cluster.sh stop "$$dir/data"; rm -rf "$$dir"' EXIT; \
	read -r port socket < <(tests/cluster.sh start "$$dir/data"); \
	echo "regress cluster: $$dir/data on port $$port"; \
	tests=$$(cd tests/pg_regress/sql && ls *.sql | sed 's/\.sql$$//' | sort); \
	mkdir -p target/regress; \
	status=0; \
	$$($(PG_CONFIG) --pkglibdir)/pgxs/src/test/regress/pg_regress \
	    --host="$$socket" --port="$$port" --user=postgres --dbname=pg_marketing_regress \
	    --load-extension=pg_marketing --inputdir=tests/pg_regress --outputdir=target/regress $$tests \
	    > target/regress/run.log 2>&1 || status=$$?; \
	cat target/regress/run.log; \
	if [ $$status -ne 0 ] && [ -f target/regress/regression.diffs ]; then cat target/regress/regression.diffs; fi; \
	[ $$status -eq 0 ] || exit $$status; \
	echo "== doc tester"; \
	python3 tests/doc_tester.py --host "$$socket" --port "$$port" || exit $$?; \
	echo "== attack suite ($(ATTACK_SECONDS) s)"; \
	python3 tests/attack/attack.py --host "$$socket" --port "$$port" --log "$$dir/data/server.log" \
	    --seconds $(ATTACK_SECONDS)

# 4. Out of memory is an ERROR: a cluster limited to 1.5 GB of address space (tests/out_of_memory.sh).
out-of-memory: install-debug
	@echo "== out of memory"
	@CLUSTERS=$(CLUSTERS) tests/out_of_memory.sh

# 5. Upgrades: 0.1.0 built from its tag, objects that depend on it, the current version over it,
#    ALTER EXTENSION UPDATE, the catalog against a fresh install, pg_regress (tests/upgrade.sh).
upgrade-test: install-debug
	@echo "== upgrade"
	@CLUSTERS=$(CLUSTERS) PG_CONFIG=$(PG_CONFIG) INSTALL_FLAGS="$(if $(SUDO),--sudo)" tests/upgrade.sh

# 6. The Debian package installs and works: make package, then dpkg -i, dpkg --verify,
#    CREATE EXTENSION in a fresh cluster and one query of each family (tests/package.sh).
#    The package is purged afterwards.
package-test: package
	@echo "== package"
	@CLUSTERS=$(CLUSTERS) PG_CONFIG=$(PG_CONFIG) SUDO=$(SUDO) tests/package.sh

# target/package/postgresql-15-pg-marketing_<version>_<arch>.deb from a release build, and
# META.json validated against the PGXN meta spec (packaging/deb.sh).
package: setup $(PGXN_META)
	@PG_CONFIG=$(PG_CONFIG) PG_MAJOR=$(PG_MAJOR) PGXN_META=$(PGXN_META) packaging/deb.sh

$(PGXN_META):
	cargo install pgxn_meta --version $(PGXN_META_VERSION) --locked --root $(CURDIR)/target/tools

# The attack suite alone, for DURATION seconds, on a release build in a cluster of its own
# (docs/reliability.md): `make attack DURATION=1800`.
attack: install-release
	@dir=$$(mktemp -d $(CLUSTERS)/attack.XXXXXX); \
	trap 'tests/cluster.sh stop "$$dir/data"; rm -rf "$$dir"' EXIT; \
	read -r port socket < <(tests/cluster.sh start "$$dir/data"); \
	python3 tests/attack/attack.py --host "$$socket" --port "$$port" --log "$$dir/data/server.log" \
	    --seconds $(DURATION) --seed $(SEED)

# Cancellation latency per family (docs/reliability.md), on a release build.
cancel-latency: install-release
	@dir=$$(mktemp -d $(CLUSTERS)/latency.XXXXXX); \
	trap 'tests/cluster.sh stop "$$dir/data"; rm -rf "$$dir"' EXIT; \
	read -r port socket < <(tests/cluster.sh start "$$dir/data"); \
	$(PSQL) -q -h $$socket -p $$port -d postgres -c "CREATE DATABASE latency"; \
	$(PSQL) -q -h $$socket -p $$port -d latency -c "CREATE EXTENSION pg_marketing"; \
	python3 bench/cancel_latency.py --host "$$socket" --port "$$port" --dbname latency

install-debug: setup
	cargo pgrx install --pg-config $(PG_CONFIG) $(if $(SUDO),--sudo) 2>&1 | tail -n 3

install-release: setup
	cargo pgrx install --release --pg-config $(PG_CONFIG) $(if $(SUDO),--sudo) 2>&1 | tail -n 3

# Release build into the system PostgreSQL 15, a demo cluster as postgres on DEMO_PORT,
# the demo data, the headline queries. Safe to run again: it reuses the cluster and
# rebuilds the database.
demo: install-release
	@read -r port socket < <(tests/cluster.sh start $(DEMO_DATA) $(DEMO_PORT)); \
	echo "demo cluster: data dir $(DEMO_DATA), port $$port, socket $$socket"; \
	psql="$(PSQL) -h $$socket -p $$port"; \
	$$psql -q -d postgres -c "DROP DATABASE IF EXISTS $(DEMO_DB) WITH (FORCE)" -c "CREATE DATABASE $(DEMO_DB)"; \
	$$psql -q -d $(DEMO_DB) -c "CREATE EXTENSION pg_marketing"; \
	echo "loading the demo data ($(DEMO_CUSTOMERS) customers) and the CDNOW sample..."; \
	$$psql -q -d $(DEMO_DB) -v customers=$(DEMO_CUSTOMERS) -v seed=42 -f bench/generate.sql; \
	$$psql -q -d $(DEMO_DB) -f tests/data/load_cdnow.sql; \
	$$psql -d $(DEMO_DB) -f docs/demo.sql; \
	echo; echo "Connect with:  psql -h $$socket -p $$port -U postgres $(DEMO_DB)"

# Side-by-side benchmarks (bench/run.py, docs/benchmarks.md): release build, a benchmark
# cluster as postgres on BENCH_PORT, the data at SCALE (tiny, small, medium, large; kept
# between runs), the runs, the report; ONLY=regex runs the matching cases alone (no docs).
# Not part of `make test`.
bench: install-release bench/.venv/installed
	@read -r port socket < <(PG_OPTIONS="$(BENCH_SERVER_OPTIONS)" tests/cluster.sh start $(BENCH_DATA) $(BENCH_PORT)); \
	echo "benchmark cluster: data dir $(BENCH_DATA), port $$port"; \
	bench/.venv/bin/python bench/run.py --scale $(SCALE) --host "$$socket" --port "$$port" $(if $(ONLY),--only '$(ONLY)')

bench/.venv/installed: bench/requirements.txt bench/requirements-nodeps.txt
	@for package in python3 python3-venv; do \
	    dpkg -s "$$package" >/dev/null 2>&1 || { $(SUDO) apt-get update -qq; \
	        $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$package; }; \
	done
	python3 -m venv bench/.venv
	bench/.venv/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	bench/.venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r bench/requirements-nodeps.txt
	@touch $@
