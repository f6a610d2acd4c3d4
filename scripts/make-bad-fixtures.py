#!/usr/bin/env python3
"""Writes the bad-input corpus in tests/fixtures/bad/ (deterministic; gzip mtime 0).

Record-level faults sit between two GOOD records (an EBS snapshot shared with an external
account, one alert each), so each file also proves that the good records around the fault are
still detected. tests/bad_inputs.rs holds the documented result for every file.
"""
import gzip
import io
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "bad")
OWNER = "111122223333"
EXTERNAL = "999988887777"


def base(name, source, event_id, params):
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{OWNER}:user/mallory",
                         "accountId": OWNER, "accessKeyId": "AKIAEXAMPLE"},
        "eventTime": "2024-08-01T12:00:00Z", "eventSource": source, "eventName": name,
        "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2",
        "requestParameters": params, "responseElements": None, "eventID": event_id,
        "eventType": "AwsApiCall", "readOnly": False, "recipientAccountId": OWNER,
    }


def good(n):
    return base("ModifySnapshotAttribute", "ec2.amazonaws.com", f"good-{n}", {
        "snapshotId": f"snap-0{n}", "attributeType": "CREATE_VOLUME_PERMISSION",
        "createVolumePermission": {"add": {"items": [{"userId": EXTERNAL}]}}})


def bucket_policy(event_id, policy, bucket="shared-bucket"):
    return base("PutBucketPolicy", "s3.amazonaws.com", event_id,
                {"bucketName": bucket, "Host": f"{bucket}.s3.amazonaws.com", "bucketPolicy": policy, "policy": [""]})


def share_policy(principal, statement_as_object=False, key="Principal"):
    stmt = {"Sid": "Share", "Effect": "Allow", key: principal, "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::shared-bucket/*"}
    return {"Version": "2012-10-17", "Statement": stmt if statement_as_object else [stmt]}


def dumps(v):
    return json.dumps(v, separators=(",", ":")).encode()


def log(*elements_json: bytes) -> bytes:
    return b'{"Records":[' + b",".join(elements_json) + b"]}"


def gz(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as f:
        f.write(data)
    return buf.getvalue()


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    g1, g2 = dumps(good(1)), dumps(good(2))
    write("empty.json.gz", b"")
    write("empty-gzip.json.gz", gz(b""))
    filler = [dumps(base("GetObject", "s3.amazonaws.com", f"f{i}", {"bucketName": "b", "key": "k" * 200}))
              for i in range(400)]
    whole = gz(log(g1, *filler, g2))
    write("truncated-gzip.json.gz", whole[: len(whole) * 3 // 4])
    write("gzip-of-text.json.gz", gz(b"this is a plain text file, not JSON at all\n" * 20))
    write("no-records.json", b'{"Events":[' + g1 + b"]}")
    write("records-not-array.json", b'{"Records":{"0":' + g1 + b"}}")
    write("records-not-objects.json", log(g1, b"1", b'"text"', b"null", b"[1,2]", b"true", g2))
    write("invalid-utf8.json", log(g1, b'{"eventName":"Put\xff\xfeBucketPolicy","eventSource":"s3.amazonaws.com"}', g2))
    write("bom.json", b"\xef\xbb\xbf" + log(g1, g2))
    deep = b'{"eventName":"PutBucketPolicy","eventSource":"s3.amazonaws.com","requestParameters":' + \
        b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}"
    write("deep-nesting.json", log(g1, deep, g2))
    # One 10 MiB string (under the 16 MiB record limit) carrying a forged line and an ANSI
    # escape into the bucket name, which alert summaries quote.
    huge_bucket = "evil\n[CRITICAL] forged line \x1b[31m" + "b" * (10 << 20)
    huge = bucket_policy("huge", share_policy({"AWS": f"arn:aws:iam::{EXTERNAL}:root"}), bucket=huge_bucket)
    huge["requestParameters"]["Host"] = "s3.amazonaws.com"
    huge["userAgent"] = "\u202eagent\r\n" + "u" * 1000
    write("huge-strings.json.gz", gz(log(g1, dumps(huge), g2)))
    wrong = [
        {"eventName": 42, "eventSource": ["ec2.amazonaws.com"], "eventID": "w1"},
        dict(good(3), userIdentity="root", recipientAccountId=111122223333, eventID="w2", errorCode={}),
        dict(good(4), requestParameters="snapshotId=snap-1", eventID="w3"),
        dict(good(5), requestParameters={"snapshotId": 7, "createVolumePermission": {"add": {"items": [{"userId": 999988887777}]}}}, eventID="w4"),
        dict(good(6), eventTime=None, awsRegion=None, readOnly="false", resources="none", eventID="w5"),
    ]
    write("wrong-types.json", log(g1, *[dumps(w) for w in wrong], g2))
    ext = {"AWS": f"arn:aws:iam::{EXTERNAL}:root"}
    write("policy-as-string.json", log(dumps(bucket_policy("as-string", json.dumps(share_policy(ext))))))
    write("policy-as-object.json", log(dumps(bucket_policy("as-object", share_policy(ext)))))
    write("statement-object.json", log(dumps(bucket_policy("stmt-object", share_policy(ext, statement_as_object=True)))))
    write("statement-array.json", log(dumps(bucket_policy("stmt-array", share_policy(ext)))))
    shapes = [
        ("star", "*"),
        ("aws-star", {"AWS": "*"}),
        ("arn-string", f"arn:aws:iam::{EXTERNAL}:root"),
        ("bare-account", EXTERNAL),
        ("aws-list", {"AWS": [f"arn:aws:iam::{OWNER}:root", f"arn:aws-us-gov:iam::{EXTERNAL}:role/x"]}),
        ("aws-own-account", {"AWS": f"arn:aws:iam::{OWNER}:root"}),
        ("service", {"Service": ["cloudtrail.amazonaws.com", "logging.s3.amazonaws.com"]}),
        ("cloudfront-oai", {"AWS": "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2QWRUHAPOMQZL"}),
        ("canonical-user", {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}),
        ("federated", {"Federated": "cognito-identity.amazonaws.com"}),
    ]
    records = [dumps(bucket_policy(f"principal-{name}", share_policy(p))) for name, p in shapes]
    records.append(dumps(bucket_policy("notprincipal", share_policy({"AWS": f"arn:aws:iam::{OWNER}:root"}, key="NotPrincipal"))))
    write("principal-shapes.json", log(*records))
    # 64 MiB of whitespace inside the array: a 64 KB file the reader must stop at its ceiling.
    bomb = io.BytesIO()
    with gzip.GzipFile(fileobj=bomb, mode="wb", mtime=0, compresslevel=9) as f:
        f.write(b'{"Records":[' + g1 + b",")
        chunk = b" " * (1 << 20)
        for _ in range(64):
            f.write(chunk)
        f.write(g2 + b"]}")
    write("gzip-bomb.json.gz", bomb.getvalue())
    for name in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(os.path.join(OUT, name)):>10}  {name}")


if __name__ == "__main__":
    main()
