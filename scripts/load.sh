#!/usr/bin/env bash
# make load: through the Lambda handler against moto on 127.0.0.1: 1,000 objects / 1,000,000+
# records with the dedup table, delivered twice, every alert exactly once; then alert-heavy
# objects, peak RSS against quiet objects of the same records. See tests/load.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory venv
TRAILWATCH_REQUIRE_MOTO=1 cargo test --release --all-features --test load -- \
    --ignored --nocapture --test-threads 1 2>&1 | grep -v -e "^\s*$" -e "^{\"_aws\""
