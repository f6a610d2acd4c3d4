#!/usr/bin/env python3
"""Turns ../shared/samples into test fixtures.

Each Stratus Red Team detonation log (a JSON array of CloudTrail records) becomes a CloudTrail
log object, {"Records": [...]}, gzipped as CloudTrail delivers it. The Panther peer cases are
copied as they are. Re-run after the samples change; tests/samples.rs checks the fixtures still
match the shared copy when it is present.
"""
import gzip
import json
import pathlib
import shutil

root = pathlib.Path(__file__).resolve().parent.parent
shared = root.parent / "shared" / "samples"
out = root / "tests" / "fixtures"

for src in sorted((shared / "stratus-detonation-logs").glob("*.json")):
    records = json.loads(src.read_text())
    body = json.dumps({"Records": records}, separators=(",", ":")).encode()
    dest = out / "stratus" / (src.stem + ".json.gz")
    # mtime=0 keeps the gzip bytes reproducible.
    with open(dest, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
        gz.write(body)

shutil.copyfile(shared / "panther-peer" / "cases.json", out / "panther-peer" / "cases.json")
print("fixtures written to", out)
