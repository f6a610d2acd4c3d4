#!/usr/bin/env bash
# The README's "run it": the Lambda function end to end on this machine, no AWS account.
# moto server (S3, SNS, SQS) on 127.0.0.1, sample CloudTrail logs in a trail bucket, the function
# run by `cargo lambda watch` and invoked with an S3 notification from events/, and the alerts
# that reached a queue subscribed to the alert topic printed. Everything started is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/.venv/bin:$PATH"
[ -x .venv/bin/moto_server ] || { echo "run 'make venv' first (make demo does it)"; exit 1; }

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MOTO_PORT=$(free_port)
LAMBDA_PORT=$(free_port)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"

# Polls a loopback port every 0.2 s, at most TRIES times.
wait_for_port() {
  local port=$1 tries=$2
  for _ in $(seq "$tries"); do
    .venv/bin/python -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && return
    sleep 0.2
  done
}

echo "==> starting moto server on 127.0.0.1:$MOTO_PORT"
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
wait_for_port "$MOTO_PORT" 100

echo "==> creating the trail bucket, alert topic and a subscribed queue; uploading sample logs"
echo "    and a tuning file (s3://trailwatch-demo-config/trailwatch/tuning.yml: one exception, one Sigma rule)"
TOPIC_ARN=$(.venv/bin/python scripts/demo_aws.py setup)

echo "==> building and starting the function (cargo lambda watch on 127.0.0.1:$LAMBDA_PORT)"
cargo build --quiet --bin trailwatch-lambda
cargo lambda watch -A 127.0.0.1 -P "$LAMBDA_PORT" \
  --env-var "ALERT_TOPIC_ARN=$TOPIC_ARN" \
  --env-var "TRAILWATCH_CONFIG=s3://trailwatch-demo-config/trailwatch/tuning.yml" \
  --env-var "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL" \
  --env-var "AWS_ACCESS_KEY_ID=testing,AWS_SECRET_ACCESS_KEY=testing,AWS_SESSION_TOKEN=testing" \
  --env-var "AWS_REGION=us-east-1,AWS_EC2_METADATA_DISABLED=true,RUST_LOG=info" \
  >"$WORK/watch.log" 2>&1 &
PIDS+=($!)
wait_for_port "$LAMBDA_PORT" 300

echo "==> invoking with events/demo-s3-notification.json (6 objects: 5 logs, 1 digest)"
cargo lambda invoke -A 127.0.0.1 -P "$LAMBDA_PORT" trailwatch-lambda \
  --data-file events/demo-s3-notification.json >"$WORK/response.json" || {
    echo "invoke failed; function log:"; tail -n 40 "$WORK/watch.log"; exit 1; }
echo "    response: $(cat "$WORK/response.json")"

echo "==> function log (one line per object)"
grep -h '"object processed"' "$WORK/watch.log" | .venv/bin/python scripts/demo_aws.py log || true

echo "==> suppressed by the tuning file's exception (function log and EMF metric)"
.venv/bin/python scripts/demo_aws.py suppressed <"$WORK/watch.log"

echo "==> alerts that reached the subscribed queue"
.venv/bin/python scripts/demo_aws.py read

echo "==> what an e-mail subscriber reads for one of them (MessageStructure json, the email key)"
cargo run --quiet --bin trailwatch -- scan --format email \
  tests/fixtures/stratus/aws.exfiltration.ec2-share-ami.json.gz 2>/dev/null || true
