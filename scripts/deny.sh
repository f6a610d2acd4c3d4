#!/usr/bin/env bash
# make deny: licenses, bans and sources (offline, always), then RustSec advisories when the
# advisory database can be fetched (these machines may have no route to GitHub; when it is
# unreachable the check says so and is skipped, never silently passed).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deny >/dev/null || cargo install cargo-deny --locked --quiet
cargo deny --all-features check --hide-inclusion-graph bans licenses sources
if timeout 120 cargo deny fetch db >/dev/null 2>&1; then
    cargo deny --all-features check --hide-inclusion-graph --disable-fetch advisories
else
    echo "cargo deny advisories: SKIPPED, the RustSec database could not be fetched from this machine"
fi
