# trailwatch — the front door. Every target installs what it needs into the project on first use
# (.venv for Python tools, infra/.venv and infra/cdk/node_modules for infrastructure checks).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
CARGO ?= cargo

.PHONY: help test test-rust lint deny fmt venv demo bench build infra-check deploy cdk-deploy load fuzz backfill clean

help:
	@echo "make demo         run the Lambda locally against moto on 127.0.0.1 (no AWS account)"
	@echo "make test         the whole test suite: fmt, clippy, unit, sample, integration, infra checks"
	@echo "make bench        throughput and memory benchmarks (ratios against a baseline)"
	@echo "make load         1,000 objects / 1,000,000 records through the handler against moto"
	@echo "make fuzz         cargo-fuzz each target for FUZZ_SECONDS (default 600)"
	@echo "make build        cargo lambda build --release --arm64"
	@echo "make backfill     S3 Batch Operations job over past days (LOCATION= SINCE= UNTIL= FUNCTION_ARN= ROLE_ARN= REPORT=; DRY_RUN=0 to create it)"
	@echo "make deploy       sam build && sam deploy --guided (needs an AWS account)"
	@echo "make cdk-deploy   cdk deploy (needs an AWS account)"

# Python tools (moto server) in a project-local virtualenv.
$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

fmt:
	$(CARGO) fmt --all

# The second clippy builds the detector and the CLI without the `lambda` feature: any AWS SDK
# or tokio use outside src/lambda fails to compile, so purity is checked by the compiler.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --all-features -- -D warnings
	$(CARGO) clippy --no-default-features --lib --bins -- -D warnings

# Unit, rule, sample and integration tests. Integration tests start moto from .venv and fail
# (rather than skip) when TRAILWATCH_REQUIRE_MOTO=1 and it is missing.
test-rust: venv
	TRAILWATCH_REQUIRE_MOTO=1 $(CARGO) test --all-features

test: lint deny test-rust infra-check

# Supply chain: licenses, bans and sources always; advisories when the database is reachable.
deny:
	scripts/deny.sh

fuzz:
	scripts/fuzz.sh

infra-check:
	$(MAKE) -C infra check

demo: venv
	scripts/demo.sh

bench:
	scripts/bench.sh

load: venv
	scripts/load.sh

build:
	scripts/build-lambda.sh

deploy:
	$(MAKE) -C infra deploy

cdk-deploy:
	$(MAKE) -C infra cdk-deploy

# trailwatch backfill with the stack's outputs (README, "Hunting and backfill"); a dry run unless
# DRY_RUN=0. Needs AWS credentials for the trail bucket's account and region.
DRY_RUN ?= 1
backfill:
	@test -n "$(LOCATION)" -a -n "$(SINCE)" -a -n "$(FUNCTION_ARN)" -a -n "$(ROLE_ARN)" -a -n "$(REPORT)" || \
		{ echo "usage: make backfill LOCATION=s3://bucket/prefix SINCE=YYYY-MM-DD [UNTIL=YYYY-MM-DD] FUNCTION_ARN=... ROLE_ARN=... REPORT=s3://... [DRY_RUN=0]"; exit 2; }
	$(CARGO) run --release --quiet --bin trailwatch -- backfill "$(LOCATION)" --since "$(SINCE)" \
		$(if $(UNTIL),--until "$(UNTIL)") --function-arn "$(FUNCTION_ARN)" --role-arn "$(ROLE_ARN)" \
		--report "$(REPORT)" $(if $(filter 1,$(DRY_RUN)),--dry-run)

clean:
	$(CARGO) clean
	rm -rf $(VENV) bench-data
