# Why: one place for the commands a contributor and CI run; .ci/run calls
# `make lint` and `make test`. The scripts they call explain themselves.

CARGO ?= cargo
BROKER_DIR ?= target/brokers

.PHONY: setup build demo test lint completions brokers-up brokers-down infra infra-down

# cmake and a C/C++ compiler for the vendored librdkafka, when missing.
setup:
	bash scripts/setup.sh

build: setup
	$(CARGO) build --release

# The whole pipeline on embedded brokers; see scripts/demo.sh.
demo:
	bash scripts/demo.sh

# Installs Mosquitto and tansu when missing, then runs every test target
# against throwaway brokers on loopback. TEST_ARGS go to the test binaries.
test:
	bash scripts/test.sh $(TEST_ARGS)

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps

# Regenerates the checked-in completion scripts from the binary.
completions:
	$(CARGO) build --bin mqk
	for shell in bash zsh fish; do \
	  case $$shell in bash) f=mqk.bash;; zsh) f=_mqk;; fish) f=mqk.fish;; esac; \
	  target/debug/mqk completions $$shell > completions/$$f; \
	done

# Long-lived test brokers for repeated `cargo test` runs while developing:
#   make brokers-up && set -a && . target/brokers/env && set +a
brokers-up:
	bash scripts/brokers.sh start $(BROKER_DIR)

brokers-down:
	bash scripts/brokers.sh stop $(BROKER_DIR)

# Mosquitto, Kafka and the bridge in Docker (docker-compose.yml).
infra:
	docker compose up -d --build

infra-down:
	docker compose down
