"""Offline checks of infra/template.yaml that cfn-lint cannot make: the reliability promises the
function relies on (README, "Reliability").

- Every allowed function timeout keeps the queue redelivering a message until a killed run's
  dedup claims have ended (they end LEASE_MARGIN after the invocation's deadline,
  src/lambda/delivery.rs), so no message reaches the dead-letter queue only because a claim was
  still held.
- The function may list the trail bucket under the log prefix only, so S3 answers a GetObject for
  a missing key with 404 (not retried) rather than 403 (retried, then alarms).
"""

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BATCHING_WINDOW_SECONDS = 5


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


def _tag(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


CfnLoader.add_multi_constructor("!", _tag)


def lease_margin_seconds() -> int:
    text = (ROOT / "src/lambda/delivery.rs").read_text()
    match = re.search(r"LEASE_MARGIN: Duration = Duration::from_secs\((\d+)\)", text)
    assert match, "LEASE_MARGIN not found in src/lambda/delivery.rs"
    return int(match.group(1))


def main() -> int:
    template = yaml.load((ROOT / "infra/template.yaml").read_text(), Loader=CfnLoader)
    problems = []
    margin = lease_margin_seconds()
    queue = template["Resources"]["IngestQueue"]["Properties"]
    max_receive = int(queue["RedrivePolicy"]["maxReceiveCount"])
    visibility = template["Mappings"]["VisibilityForTimeout"]
    for timeout in template["Parameters"]["Timeout"]["AllowedValues"]:
        lease_ends = BATCHING_WINDOW_SECONDS + int(timeout) + margin
        last_redelivery = (max_receive - 1) * int(visibility[str(timeout)]["Seconds"])
        if last_redelivery <= lease_ends:
            problems.append(
                f"Timeout {timeout}: last redelivery at {last_redelivery} s, claims end at {lease_ends} s"
            )
    role = template["Resources"]["FunctionRole"]["Properties"]
    statements = [
        st
        for policy in role["Policies"]
        for st in policy["PolicyDocument"]["Statement"]
        if isinstance(st, dict)
    ]
    listing = [st for st in statements if st.get("Action") == "s3:ListBucket"]
    if len(listing) != 1:
        problems.append("the function needs exactly one s3:ListBucket statement (404, not 403, for a missing key)")
    elif listing[0].get("Condition") != {"StringLike": {"s3:prefix": "${LogPrefix}*"}}:
        problems.append(f"s3:ListBucket must be limited to the log prefix: {listing[0].get('Condition')}")
    for problem in problems:
        print(f"infra/template.yaml: {problem}", file=sys.stderr)
    if not problems:
        print(f"template invariants hold (lease margin {margin} s, {max_receive} receives)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
