#!/usr/bin/env bash
# make fuzz: coverage-guided fuzzing (cargo-fuzz / libFuzzer) of the log reader, the policy
# module and the whole detector, each for FUZZ_SECONDS (default 600), from the committed
# corpora in fuzz/corpus (seeded from the fixtures by scripts/fuzz-seeds.py), which are then
# minimised and kept. RUSTC_BOOTSTRAP=1 lets the stable toolchain build with sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${FUZZ_SECONDS:-600}"
TARGETS="${FUZZ_TARGETS:-reader record policy skim}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
python3 scripts/fuzz-seeds.py >/dev/null
cd fuzz
cargo fuzz build -O
for target in $TARGETS; do
    echo "== $target for ${SECONDS_PER_TARGET}s"
    cargo fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=1024 -timeout=10 -max_len=65536 \
        -print_final_stats=1 2>&1 | grep -aE '^(stat::|#[0-9]+ +DONE)|panicked|SUMMARY' || true
    if ls "artifacts/$target"/crash-* "artifacts/$target"/timeout-* "artifacts/$target"/oom-* >/dev/null 2>&1; then
        echo "FAIL: $target left artifacts in fuzz/artifacts/$target" >&2
        exit 1
    fi
    cargo fuzz cmin -O "$target" "corpus/$target" >/dev/null 2>&1
    echo "   corpus: $(ls "corpus/$target" | wc -l) inputs"
done
