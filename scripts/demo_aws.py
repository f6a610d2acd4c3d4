#!/usr/bin/env python3
"""AWS side of `make demo`, against moto on loopback (AWS_ENDPOINT_URL): set up, then read alerts."""
import gzip
import json
import pathlib
import sys
import time

import boto3

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUCKET = "trailwatch-demo-trail"
CONFIG_BUCKET = "trailwatch-demo-config"
CONFIG_KEY = "trailwatch/tuning.yml"
# The tuning file the function reads from S3 (TRAILWATCH_CONFIG): one exception for the EBS
# snapshot share to the partner's account, and the example Sigma rule. Sigma rules are read from
# the function's bundle: here, the repository's examples directory.
TUNING = """\
exceptions:
  - name: partner-dr-snapshots
    reason: Nightly DR copy of EBS snapshots to the partner's recovery account (SEC-1234)
    owner: platform-team@example.com
    expires: 2030-12-31
    match:
      rules: [resource-shared-with-external-account]
      resources: ["snap-*"]
      external_accounts: ["098797384747"]
sigma:
  directory: {sigma}
"""
EVENT = json.loads((ROOT / "events" / "demo-s3-notification.json").read_text())
FIXTURES = ROOT / "tests" / "fixtures" / "stratus"
# Which sample log goes behind each key of the demo notification, in order.
SAMPLES = [
    "aws.exfiltration.ec2-share-ami",
    "aws.exfiltration.ec2-share-ebs-snapshot",
    "aws.exfiltration.rds-share-snapshot",
    "aws.persistence.lambda-backdoor-function",
    "aws.defense-evasion.cloudtrail-stop",
    None,  # digest file
]


def setup():
    from urllib.parse import unquote_plus

    s3, sns, sqs = boto3.client("s3"), boto3.client("sns"), boto3.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    topic = sns.create_topic(Name="trailwatch-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="trailwatch-demo-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    for record, sample in zip(EVENT["Records"], SAMPLES):
        key = unquote_plus(record["s3"]["object"]["key"])
        if sample is None:
            body = gzip.compress(json.dumps({"digestStartTime": "2024-08-01T12:00:00Z", "logFiles": []}).encode())
        else:
            body = (FIXTURES / f"{sample}.json.gz").read_bytes()
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    s3.create_bucket(Bucket=CONFIG_BUCKET)
    tuning = TUNING.format(sigma=ROOT / "examples" / "tuning" / "sigma")
    s3.put_object(Bucket=CONFIG_BUCKET, Key=CONFIG_KEY, Body=tuning.encode())
    print(topic)


def read():
    sqs = boto3.client("sqs")
    queue = sqs.get_queue_url(QueueName="trailwatch-demo-inbox")["QueueUrl"]
    alerts, deadline = [], time.time() + 10
    while time.time() < deadline:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not got and alerts:
            break
        for m in got:
            envelope = json.loads(m["Body"])
            attrs = {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()}
            alerts.append((envelope.get("Subject", ""), attrs, json.loads(envelope["Message"])))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    for subject, attrs, alert in alerts:
        origin = "  <- a Sigma rule from the tuning file" if alert["rule_id"].startswith("sigma-") else ""
        print(f"  {subject}{origin}")
        print(f"    {alert['summary']}")
        print(f"    attributes: " + ", ".join(f"{k}={v}" for k, v in sorted(attrs.items())))
        print(f"    from {alert['log_object']['location']} (event {alert['event_id']})")
    sigma = sum(1 for _, _, alert in alerts if alert["rule_id"].startswith("sigma-"))
    print(f"{len(alerts)} alerts reached the queue ({sigma} from Sigma rules)")
    if not alerts or not sigma:
        sys.exit(1)


def log():
    """Summarises the function's per-object JSON log lines from stdin."""
    for line in sys.stdin:
        start = line.find("{")
        if start < 0:
            continue
        fields = json.loads(line[start:]).get("fields", {})
        name = fields.get("key", "?").rsplit("/", 1)[-1]
        print(f"    {name}: {fields.get('records')} records, {fields.get('alerts')} alerts, {fields.get('ms')} ms")


def suppressed():
    """Prints the function's "alert suppressed by exception" lines and per-exception metrics
    (stdin: the function log); fails when nothing was suppressed."""
    seen = 0
    for line in sys.stdin:
        start = line.find("{")
        if start < 0:
            continue
        try:
            doc = json.loads(line[start:])
        except json.JSONDecodeError:
            continue
        fields = doc.get("fields", {})
        if fields.get("message") == "alert suppressed by exception":
            seen += 1
            print(f"    log: exception {fields.get('exception')!r} suppressed {fields.get('rule_id')}: {fields.get('summary')}")
        elif "ExceptionSuppressed" in doc:
            print(f"    metric: trailwatch/ExceptionSuppressed{{Exception={doc['Exception']}}} = {doc['ExceptionSuppressed']}")
    if not seen:
        print("    no suppression found in the function log")
        sys.exit(1)


if __name__ == "__main__":
    {"setup": setup, "read": read, "log": log, "suppressed": suppressed}[sys.argv[1]]()
