#!/usr/bin/env bash
# `make build`: the deployable artifact, target/lambda/trailwatch-lambda/bootstrap for
# provided.al2023 on arm64 (Graviton), cross-compiled with cargo-lambda and zig from .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory venv
export PATH="$PWD/.venv/bin:$PATH"
rustup target add aarch64-unknown-linux-gnu >/dev/null
cargo lambda build --release --arm64 --bin trailwatch-lambda
ls -l target/lambda/trailwatch-lambda/bootstrap
