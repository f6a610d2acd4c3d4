#!/usr/bin/env python3
"""Seed corpora for the fuzz targets from the project's own fixtures.

fuzz/corpus/record: every Stratus record and every Panther peer-case event, one JSON text each.
fuzz/corpus/reader: small whole logs (flag byte + body), plain and gzip-flagged, from the same.
fuzz/corpus/policy: every bucket policy found in those records, as an object and as a string.
libFuzzer adds what it finds to these directories; `make fuzz` keeps them committed.
"""
import glob
import gzip
import hashlib
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def records():
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/stratus/*.json.gz"))):
        yield from json.load(gzip.open(path))["Records"]
    cases = json.load(open(os.path.join(ROOT, "tests/fixtures/panther-peer/cases.json")))
    for case in cases if isinstance(cases, list) else cases.get("cases", []):
        event = case.get("event") or case.get("log") or case.get("record")
        if isinstance(event, dict):
            yield event


def policies(value):
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("bucketPolicy", "policy", "Policy") and isinstance(v, (dict, str)) and v:
                yield v
            yield from policies(v)
    elif isinstance(value, list):
        for v in value:
            yield from policies(v)


def main():
    recs = list(records())
    for r in recs:
        text = json.dumps(r, separators=(",", ":")).encode()
        put("record", text)
        for p in policies(r):
            doc = p if isinstance(p, str) else json.dumps(p)
            put("policy", doc.encode())
            if isinstance(p, dict):
                put("policy", json.dumps(json.dumps(p)).encode())
    # Every Principal and Condition shape the policy module reads.
    shapes = [
        {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}},
        {"Statement": [{"Sid": "a", "Effect": "Allow", "Principal": {"AWS": ["arn:aws-us-gov:iam::123456789012:root", "210987654321"]}}]},
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com", "CanonicalUser": "abc"}}]},
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E1"}}]},
        {"Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}}]},
        {"Statement": [{"Effect": "Allow", "Principal": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}}]},
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws-cn:sns:cn-north-1:444455556666:t"}}}]},
        {"Statement": [{"Effect": "Allow", "Principal": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]},
        {"Statement": [{"Effect": "Deny", "Principal": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]},
    ]
    for shape in shapes:
        put("policy", json.dumps(shape).encode())
        put("policy", json.dumps(json.dumps(shape)).encode())
    # Whole logs: groups of 8 records, plain (flag 0x00) and gzip in small pieces (0x03).
    for i in range(0, len(recs), 8):
        body = json.dumps({"Records": recs[i:i + 8]}, separators=(",", ":")).encode()
        put("reader", b"\x00" + body)
        put("reader", b"\x03" + body)
    put("reader", b"\x00" + b'{"CloudTrail-Digest":1,"digestStartTime":"2024-08-01T00:00:00Z"}')
    put("reader", b"\x10" + b'{"Records":[{"eventName":"x"},7,"s",null,{"a":[1,2,{"b":3}]}]}')
    for target in ("record", "reader", "policy"):
        print(target, len(os.listdir(os.path.join(CORPUS, target))), "seeds")


if __name__ == "__main__":
    main()
