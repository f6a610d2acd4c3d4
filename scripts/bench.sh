#!/usr/bin/env bash
# make bench: the two figures issue 2 asks for, measured in one run on this machine.
#  1. Throughput: `trailwatch scan` work (gunzip + frame + parse + all rules) against the baseline
#     "gunzip + parse into the typed record, no rules", on one core, as a ratio (target >= 0.8).
#  2. Memory: peak RSS of the release `trailwatch scan` on a 300 MB (decompressed) log, beside the
#     same command on a 1 MB log (target <= 32 MB, and not growing with the file).
# Env: BENCH_MB / BENCH_REPS for the in-process throughput bench; RSS_MB for the big log (300).
#      BENCH_SIGMA_DIR: a directory of Sigma rules (SigmaHQ's rules/cloud/aws/cloudtrail from a
#      checkout kept outside this repository; they are not shipped): also measure the scan with
#      them loaded against the scan without (target >= 0.9).
set -euo pipefail
cd "$(dirname "$0")/.."

RSS_MB="${RSS_MB:-300}"
DATA=bench-data
mkdir -p "$DATA"

echo "== building (release, detector and CLI only)"
cargo build --release --quiet --no-default-features --bin trailwatch --example gen_cloudtrail

for mb in 1 "$RSS_MB"; do
    if [[ ! -s "$DATA/${mb}mb.json.gz" ]]; then
        echo "== generating $DATA/${mb}mb.json.gz (deterministic, seed 42)"
        target/release/examples/gen_cloudtrail "$DATA/${mb}mb.json.gz" "$mb"
    fi
done

# Peak RSS of a child process, in KiB (Linux ru_maxrss), without depending on GNU time.
peak_rss() {
    python3 - "$@" <<'EOF'
import resource, subprocess, sys, time
start = time.monotonic()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
elapsed = time.monotonic() - start
alerts = proc.stdout.count(b"\n")
if proc.returncode not in (0, 1):
    sys.stderr.write(proc.stderr.decode())
    sys.exit(f"scan failed with exit code {proc.returncode}")
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, alerts, f"{elapsed:.2f}")
EOF
}

echo "== peak RSS of trailwatch scan"
read -r small_kib small_alerts small_s < <(peak_rss target/release/trailwatch scan "$DATA/1mb.json.gz")
read -r big_kib big_alerts big_s < <(peak_rss target/release/trailwatch scan "$DATA/${RSS_MB}mb.json.gz")
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
echo "   1 MB log: $(mib "$small_kib") MB peak RSS, $small_alerts alerts, ${small_s}s"
echo "$RSS_MB MB log: $(mib "$big_kib") MB peak RSS, $big_alerts alerts, ${big_s}s"
verdict=PASS
(( big_kib <= 32 * 1024 )) || verdict=FAIL
echo "RESULT peak RSS on ${RSS_MB} MB: $(( big_kib / 1024 )) MB (1 MB log: $(( small_kib / 1024 )) MB; ratio $(awk -v a="$big_kib" -v b="$small_kib" 'BEGIN { printf "%.2f", a / b }')); target <= 32 MB: $verdict"

echo "== throughput on one core (interleaved repetitions, ratios against the parse baseline)"
taskset_cmd=()
command -v taskset >/dev/null && taskset_cmd=(taskset -c 0)
"${taskset_cmd[@]}" cargo bench --quiet --no-default-features --bench scan
