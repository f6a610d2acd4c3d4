#!/usr/bin/env bash
# make bench: the figures issues 2 and 14 ask for, each as a ratio against a baseline measured in
# the same run on this machine (shared machines are noisy; absolute MB/s are context only).
#  1. Memory: peak RSS of the release `trailwatch scan` on a 300 MB (decompressed) log, beside the
#     same command on a 1 MB log (target <= 32 MB, and flat), with one job and with the gzip
#     inflated on a second thread; and on a directory of 100 logs with --jobs N (per object in
#     flight: target <= 32 MB).
#  2. Throughput on one core (pinned): scan against the parse baseline (>= 0.8) and against
#     gunzip alone (>= 0.7).
#  3. Throughput on several threads (not pinned): the scan with gzip inflated on a second thread
#     against gunzip alone on one thread (>= 0.9), and 100 files on N threads against N x one
#     thread (>= 0.9).
# Env: BENCH_MB / BENCH_REPS for the in-process bench; RSS_MB for the big log (300).
#      BENCH_SIGMA_DIR: a directory of Sigma rules (SigmaHQ's rules/cloud/aws/cloudtrail from a
#      checkout kept outside this repository; they are not shipped): also measure the scan with
#      them loaded against the scan without (target >= 0.9).
set -euo pipefail
cd "$(dirname "$0")/.."

RSS_MB="${RSS_MB:-300}"
DATA=bench-data
mkdir -p "$DATA"
JOBS="$(nproc 2>/dev/null || echo 2)"

echo "== building (release, detector and CLI only)"
cargo build --release --quiet --no-default-features --bin trailwatch --example gen_cloudtrail

for mb in 1 "$RSS_MB"; do
    if [[ ! -s "$DATA/${mb}mb.json.gz" ]]; then
        echo "== generating $DATA/${mb}mb.json.gz (deterministic, seed 42)"
        target/release/examples/gen_cloudtrail "$DATA/${mb}mb.json.gz" "$mb"
    fi
done
if [[ ! -s "$DATA/dir100/099.json.gz" ]]; then
    echo "== generating $DATA/dir100: 100 logs of 3 MB"
    mkdir -p "$DATA/dir100"
    for i in $(seq -w 0 99); do
        target/release/examples/gen_cloudtrail "$DATA/dir100/$i.json.gz" 3 >/dev/null
    done
fi

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
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
verdict() { (( $1 <= 32 * 1024 )) && echo PASS || echo FAIL; }

echo "== peak RSS of trailwatch scan"
tw=target/release/trailwatch
read -r small_kib small_alerts small_s < <(peak_rss $tw scan --jobs 1 "$DATA/1mb.json.gz")
read -r big_kib big_alerts big_s < <(peak_rss $tw scan --jobs 1 "$DATA/${RSS_MB}mb.json.gz")
read -r piped_kib piped_alerts piped_s < <(peak_rss $tw scan --jobs 2 "$DATA/${RSS_MB}mb.json.gz")
read -r dir1_kib dir1_alerts dir1_s < <(peak_rss $tw scan --jobs 1 "$DATA/dir100")
read -r dirn_kib dirn_alerts dirn_s < <(peak_rss $tw scan --jobs "$JOBS" "$DATA/dir100")
echo "   1 MB log, 1 job: $(mib "$small_kib") MB peak RSS, $small_alerts alerts, ${small_s}s"
echo "$RSS_MB MB log, 1 job: $(mib "$big_kib") MB peak RSS, $big_alerts alerts, ${big_s}s"
echo "$RSS_MB MB log, 2 threads (inflate beside parse): $(mib "$piped_kib") MB peak RSS, $piped_alerts alerts, ${piped_s}s"
echo "100 x 3 MB logs, 1 job: $(mib "$dir1_kib") MB peak RSS, $dir1_alerts alerts, ${dir1_s}s"
echo "100 x 3 MB logs, $JOBS jobs: $(mib "$dirn_kib") MB peak RSS, $dirn_alerts alerts, ${dirn_s}s"
echo "RESULT peak RSS on ${RSS_MB} MB: $(( big_kib / 1024 )) MB (1 MB log: $(( small_kib / 1024 )) MB; ratio $(awk -v a="$big_kib" -v b="$small_kib" 'BEGIN { printf "%.2f", a / b }')); target <= 32 MB: $(verdict "$big_kib")"
echo "RESULT peak RSS on ${RSS_MB} MB with the inflate thread: $(( piped_kib / 1024 )) MB; target <= 32 MB: $(verdict "$piped_kib")"
per_object=$(( dirn_kib / JOBS ))
echo "RESULT peak RSS on 100 files, $JOBS jobs: $(( dirn_kib / 1024 )) MB, $(( per_object / 1024 )) MB per object in flight; target <= 32 MB: $(verdict "$per_object")"
echo "RESULT trailwatch scan of 100 files, $JOBS jobs / 1 job wall-clock speed-up: $(awk -v a="$dir1_s" -v b="$dirn_s" 'BEGIN { printf "%.2f", a / b }')x"

echo "== throughput on one core (pinned; interleaved repetitions, ratios in the same run)"
taskset_cmd=()
command -v taskset >/dev/null && taskset_cmd=(taskset -c 0)
BENCH_PART=one "${taskset_cmd[@]}" cargo bench --quiet --no-default-features --bench scan
echo "== throughput on $JOBS threads (not pinned; baselines on one thread in the same run)"
BENCH_PART=multi cargo bench --quiet --no-default-features --bench scan
