"""One stack, two templates: checks that the SAM template and the synthesized CDK stack agree.

Compared, for the default ("new trail") shape of both:
- the function's environment variable names, runtime, architecture and handler;
- the function role's IAM actions, each with the kinds of resource it is granted on;
- the alarms (namespace, metric, statistic, threshold, comparison);
- the ingest queue and its dead-letter queue (redrive count, retention, SQS-managed SSE) and the
  rule that visibility covers six function timeouts;
- the alert topic (KMS-encrypted) and the dedup table (key, TTL attribute, billing);
- the S3 Batch Operations job role of `trailwatch backfill` (its actions and resources).

And, given CDK synths with a tuning-file source (`SOURCE=TEMPLATE` pairs), that for the same
`ConfigSource` both grant read access on exactly the same object or parameter, set
`TRAILWATCH_CONFIG` to it and have the same `ConfigReloadFailed` alarm.

Usage: python parity.py template.yaml CDK_TEMPLATE [--conditions A,B] [SOURCE=TEMPLATE ...]

`--conditions` names SAM conditions to take as true (the optional features, e.g.
CreateChatTopic,UseSecurityHub) for a CDK synth with the same features on: conditional
resources, grants and environment values are then compared as deployed with them.
Exits 1 listing every difference. Both templates are read with cfn-lint's decoder, which knows
CloudFormation's short-form tags (!Ref, !Sub, !If ...).
"""

from __future__ import annotations

import re
import sys
from typing import Any

from cfnlint.decode import decode

# SAM-only conditions that are true for the default parameters (new trail, dedup on, no
# trail key, no ops topic); CDK resolves them at synth time.
SAM_DEFAULT_CONDITIONS = {
    "CreateTrail": True,
    "UseTrailSns": False,
    "UseEventBridge": True,
    "HasTrailKey": False,
    "HasEmail": False,
    "UseDedup": True,
    "HasReservedConcurrency": False,
    "HasOpsTopic": False,
    "CreateChatTopic": False,
    "UseSecurityHub": False,
    "HasConfigSource": False,
    "ConfigInS3": False,
    "ConfigInSsm": False,
    # The CDK new-trail synth is given a backfill bucket (infra/Makefile), so both have the role.
    "HasBackfill": True,
}

# Filled from the SAM template's parameter defaults: CDK bakes the same defaults in at synth.
PARAMETER_DEFAULTS: dict[str, Any] = {}

PSEUDO = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::URLSuffix"}


def load(path: str) -> dict[str, Any]:
    template, matches = decode(path)
    if template is None:
        raise SystemExit(f"{path}: cannot be read: {matches}")
    return template


def resolve_conditions(node: Any, conditions: dict[str, bool]) -> Any:
    """Evaluates Fn::If with known conditions and drops AWS::NoValue."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, yes, no = node["Fn::If"]
            return resolve_conditions(yes if conditions.get(name, False) else no, conditions)
        out = {}
        for key, value in node.items():
            value = resolve_conditions(value, conditions)
            if value != {"Ref": "AWS::NoValue"}:
                out[key] = value
        return out
    if isinstance(node, list):
        items = [resolve_conditions(v, conditions) for v in node]
        return [v for v in items if v != {"Ref": "AWS::NoValue"}]
    return node


def resource_kind(node: Any, resources: dict[str, Any]) -> str:
    """What a policy Resource points at, independent of how each tool spells it."""
    if isinstance(node, str):
        if node == "*":
            return "*"
        return re.sub(r"\d{12}", "ACCOUNT", node)
    if isinstance(node, dict):
        if "Ref" in node:
            target = node["Ref"]
            if target in PSEUDO:
                return "${" + target + "}"
            if target in PARAMETER_DEFAULTS:
                return str(PARAMETER_DEFAULTS[target])
            return resources.get(target, {}).get("Type", f"param:{target}")
        if "Fn::GetAtt" in node:
            att = node["Fn::GetAtt"]
            logical = att[0] if isinstance(att, list) else att.split(".")[0]
            return resources.get(logical, {}).get("Type", logical)
        if "Fn::Sub" in node or "Fn::Join" in node:
            text = flatten_string(node, resources)
            return text
    return repr(node)


def flatten_string(node: Any, resources: dict[str, Any]) -> str:
    """Renders Fn::Sub / Fn::Join as text with references replaced by their kinds, and the
    suffix after the resource reference kept (e.g. `/AWSLogs/*`)."""
    if isinstance(node, str):
        return node
    if "Fn::Join" in node:
        sep, parts = node["Fn::Join"]
        return sep.join(flatten_string(p, resources) for p in parts)
    if "Fn::Sub" in node:
        sub = node["Fn::Sub"]
        text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return resource_kind(variables[name], resources)
            base = name.split(".")[0]
            if name in PSEUDO:
                return "${" + name + "}"
            if name in PARAMETER_DEFAULTS:
                return str(PARAMETER_DEFAULTS[name])
            return resources.get(base, {}).get("Type", "${" + name + "}")

        return re.sub(r"\$\{([^}]+)\}", replace, text)
    if "Ref" in node or "Fn::GetAtt" in node:
        return resource_kind(node, resources)
    return repr(node)


def normalise_arn_text(text: str) -> str:
    """`arn:${AWS::Partition}:s3:::AWS::S3::Bucket/AWSLogs/*` and CDK's join of the bucket ARN
    and `/AWSLogs/*` both become `AWS::S3::Bucket/AWSLogs/*`."""
    return re.sub(r"arn:\$\{AWS::Partition\}:s3:::", "", text)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def function_of(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    resources = template["Resources"]
    found = [
        (name, r)
        for name, r in resources.items()
        if r.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function")
        and "trailwatch" in str(r.get("Properties", {}).get("Description", "")).lower()
    ]
    if len(found) != 1:
        raise SystemExit(f"expected one trailwatch function, found {[n for n, _ in found]}")
    return found[0]


def role_statements(template: dict[str, Any], role_logical: str) -> list[dict[str, Any]]:
    resources = template["Resources"]
    statements: list[dict[str, Any]] = []
    role = resources[role_logical]
    for policy in role.get("Properties", {}).get("Policies", []):
        statements += as_list(policy["PolicyDocument"]["Statement"])
    for resource in resources.values():
        if resource.get("Type") != "AWS::IAM::Policy":
            continue
        roles = resource["Properties"].get("Roles", [])
        if {"Ref": role_logical} in roles:
            statements += as_list(resource["Properties"]["PolicyDocument"]["Statement"])
    return statements


def permissions(template: dict[str, Any], role_logical: str) -> set[tuple[str, str]]:
    resources = template["Resources"]
    granted: set[tuple[str, str]] = set()
    for statement in role_statements(template, role_logical):
        if statement.get("Effect") != "Allow":
            continue
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                kind = normalise_arn_text(resource_kind(resource, resources))
                granted.add((action, kind))
    return granted


def role_of(function: dict[str, Any]) -> str:
    role = function["Properties"]["Role"]
    return role["Fn::GetAtt"][0] if isinstance(role["Fn::GetAtt"], list) else role["Fn::GetAtt"].split(".")[0]


def backfill_role_permissions(template: dict[str, Any]) -> tuple[int, set[tuple[str, str]]]:
    """The S3 Batch Operations job roles and what they may do; the bucket (a parameter in SAM,
    a literal in the CDK synth) and the function's resource type are spelled alike."""
    resources = template["Resources"]
    roles = [
        name
        for name, r in resources.items()
        if r.get("Type") == "AWS::IAM::Role"
        and "batchoperations.s3.amazonaws.com" in str(r["Properties"].get("AssumeRolePolicyDocument"))
    ]
    granted: set[tuple[str, str]] = set()
    for name in roles:
        for action, kind in permissions(template, name):
            kind = kind.replace("AWS::Serverless::Function", "AWS::Lambda::Function")
            if action.startswith("s3:"):
                kind = re.sub(r"^[^/]*/", "BACKFILL-BUCKET/", kind)
            granted.add((action, kind))
    return len(roles), granted


def alarms(template: dict[str, Any]) -> set[tuple[Any, ...]]:
    out = set()
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        p = resource["Properties"]
        out.add(
            (
                p.get("Namespace"),
                p.get("MetricName"),
                p.get("Statistic"),
                float(p.get("Threshold")),
                p.get("ComparisonOperator"),
                int(p.get("Period", 0)),
            )
        )
    return out


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {n: r for n, r in template["Resources"].items() if r.get("Type") == kind}


def queues(template: dict[str, Any]) -> dict[str, Any]:
    """The ingest queue (the one with a redrive policy) and its dead-letter queue."""
    qs = of_type(template, "AWS::SQS::Queue")
    ingest = [r for r in qs.values() if "RedrivePolicy" in r["Properties"]]
    if len(ingest) != 1:
        raise SystemExit(f"expected one queue with a redrive policy, found {len(ingest)}")
    props = ingest[0]["Properties"]
    redrive = props["RedrivePolicy"]
    dlq_ref = redrive["deadLetterTargetArn"]["Fn::GetAtt"]
    dlq_logical = dlq_ref[0] if isinstance(dlq_ref, list) else dlq_ref.split(".")[0]
    dlq = template["Resources"][dlq_logical]["Properties"]
    return {
        "max_receive_count": int(redrive["maxReceiveCount"]),
        "retention": int(props.get("MessageRetentionPeriod", 345600)),
        "sse": props.get("SqsManagedSseEnabled", False) in (True, "true"),
        "dlq_retention": int(dlq.get("MessageRetentionPeriod", 345600)),
        "dlq_sse": dlq.get("SqsManagedSseEnabled", False) in (True, "true"),
        "visibility": props.get("VisibilityTimeout"),
    }


def compare(name: str, sam: Any, cdk: Any, problems: list[str]) -> None:
    if sam != cdk:
        if isinstance(sam, set) and isinstance(cdk, set):
            only_sam = sorted(map(str, sam - cdk))
            only_cdk = sorted(map(str, cdk - sam))
            problems.append(f"{name}:\n    only in SAM: {only_sam}\n    only in CDK: {only_cdk}")
        else:
            problems.append(f"{name}: SAM {sam!r} != CDK {cdk!r}")


CONFIG_SIDS = ("ReadConfigObject", "ReadConfigParameter")
CONFIG_CONDITIONS = ("HasConfigSource", "ConfigInS3", "ConfigInSsm")


def evaluate(node: Any, params: dict[str, str]) -> Any:
    """Evaluates Ref (parameters), Fn::Split and Fn::Select on known parameter values; other
    nodes are returned with their children evaluated."""
    if isinstance(node, list):
        return [evaluate(v, params) for v in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in params:
        return params[node["Ref"]]
    if set(node) == {"Fn::Split"}:
        sep, text = evaluate(node["Fn::Split"], params)
        return text.split(sep) if isinstance(text, str) else node
    if set(node) == {"Fn::Select"}:
        index, items = evaluate(node["Fn::Select"], params)
        return items[int(index)] if isinstance(items, list) else node
    return {k: evaluate(v, params) for k, v in node.items()}


def sam_conditions_for(source: str) -> dict[str, bool]:
    """The template's config conditions, computed the way CloudFormation would for `source`."""
    return {
        "HasConfigSource": source != "",
        "ConfigInS3": source != "" and source.split("s3://")[0] == "",
        "ConfigInSsm": source != "" and source.split("ssm:")[0] == "",
    }


def config_grants(template: dict[str, Any]) -> set[tuple[str, str]]:
    """(action, resource text) of the statements that read the tuning file."""
    resources = template["Resources"]
    _, fn = function_of(template)
    out = set()
    for statement in role_statements(template, role_of(fn)):
        if statement.get("Sid") not in CONFIG_SIDS:
            continue
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                out.add((action, flatten_string(resource, resources)))
    return out


def check_config_source(sam: dict[str, Any], source: str, cdk: dict[str, Any]) -> list[str]:
    conditions = {**SAM_DEFAULT_CONDITIONS, **sam_conditions_for(source)}
    # Only the resources CloudFormation would create are evaluated (the others split the
    # source on a prefix it does not have).
    kept = {n: r for n, r in sam["Resources"].items() if conditions.get(r.get("Condition", ""), True)}
    sam["Resources"] = evaluate(resolve_conditions(kept, conditions), {"ConfigSource": source})
    problems: list[str] = []
    compare(f"{source}: grants to read the tuning file", config_grants(sam), config_grants(cdk), problems)
    if not config_grants(cdk):
        problems.append(f"{source}: the CDK stack grants nothing on the tuning file")
    _, cdk_fn = function_of(cdk)
    compare(
        f"{source}: TRAILWATCH_CONFIG",
        source,
        cdk_fn["Properties"]["Environment"]["Variables"].get("TRAILWATCH_CONFIG"),
        problems,
    )
    def reload_alarms(t: dict[str, Any]) -> set[tuple[Any, ...]]:
        return {a for a in alarms(t) if a[1] == "ConfigReloadFailed"}

    compare(f"{source}: reload alarm", reload_alarms(sam), reload_alarms(cdk), problems)
    if not reload_alarms(cdk):
        problems.append(f"{source}: no ConfigReloadFailed alarm")
    return problems


def main(
    sam_path: str, cdk_path: str, enabled: list[str] | None = None, sources: dict[str, str] | None = None
) -> int:
    conditions = dict(SAM_DEFAULT_CONDITIONS)
    for name in enabled or []:
        if name not in conditions:
            raise SystemExit(f"unknown SAM condition {name}; known: {sorted(conditions)}")
        conditions[name] = True
    problems = check(load(sam_path), load(cdk_path), conditions)
    for source, path in (sources or {}).items():
        problems += check_config_source(load(sam_path), source, load(path))
    if problems:
        print("infra parity: the SAM template and the CDK stack disagree:")
        for p in problems:
            print(f"  - {p}")
        return 1
    on = f" with {', '.join(enabled)}" if enabled else ""
    print(f"infra parity: SAM and CDK agree{on} (environment, IAM, alarms, queues, topics, tables)")
    if sources:
        print(f"infra parity: and on the tuning-file grants and alarm for {', '.join(sources)}")
    return self_test(sam_path, cdk_path, conditions, sources or {})


def self_test(sam_path: str, cdk_path: str, conditions: dict[str, bool], sources: dict[str, str]) -> int:
    """The check must see a drift: drop an environment variable, widen an action, change an
    alarm threshold and the redrive count in the SAM side, one at a time."""
    def drop_env(t: dict[str, Any]) -> None:
        _, fn = function_of(t)
        fn["Properties"]["Environment"]["Variables"].pop("MAX_DECOMPRESSED_BYTES")

    def extra_action(t: dict[str, Any]) -> None:
        role = t["Resources"]["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        role["Statement"].append({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"})

    def alarm_threshold(t: dict[str, Any]) -> None:
        t["Resources"]["FunctionErrorsAlarm"]["Properties"]["Threshold"] = 5

    def redrive(t: dict[str, Any]) -> None:
        t["Resources"]["IngestQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] = 2

    def drop_last_grant(t: dict[str, Any]) -> None:
        t["Resources"]["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].pop()

    for mutate in (drop_env, extra_action, alarm_threshold, redrive, drop_last_grant):
        sam = load(sam_path)
        mutate(sam)
        if not check(sam, load(cdk_path), conditions):
            print(f"infra parity self-test: {mutate.__name__} went unnoticed")
            return 1
    for source, path in sources.items():
        # Granting the object's whole bucket, or the parameter's whole path, must be seen.
        sam = load(sam_path)
        for name in ("ConfigObjectReadPolicy", "ConfigParameterReadPolicy"):
            statement = sam["Resources"][name]["Properties"]["PolicyDocument"]["Statement"][0]
            statement["Resource"]["Fn::Sub"][0] += "*"
        if not check_config_source(sam, source, load(path)):
            print(f"infra parity self-test: a wider grant for {source} went unnoticed")
            return 1
    print("infra parity self-test: each injected drift is reported")
    return 0


def check(sam: dict[str, Any], cdk: dict[str, Any], conditions: dict[str, bool] = SAM_DEFAULT_CONDITIONS) -> list[str]:
    sam["Resources"] = resolve_conditions(
        {n: r for n, r in sam["Resources"].items() if conditions.get(r.get("Condition", ""), True)},
        conditions,
    )
    PARAMETER_DEFAULTS.update(
        {name: p["Default"] for name, p in sam.get("Parameters", {}).items() if "Default" in p}
    )
    problems: list[str] = []

    _, sam_fn = function_of(sam)
    _, cdk_fn = function_of(cdk)
    sp, cp = sam_fn["Properties"], cdk_fn["Properties"]
    compare(
        "function environment variables",
        set(sp["Environment"]["Variables"]),
        set(cp["Environment"]["Variables"]),
        problems,
    )
    compare("runtime", sp["Runtime"], cp["Runtime"], problems)
    compare("architectures", sp["Architectures"], cp["Architectures"], problems)
    compare("handler", sp["Handler"], cp["Handler"], problems)
    compare(
        "function role permissions (action, resource kind)",
        permissions(sam, role_of(sam_fn)),
        permissions(cdk, role_of(cdk_fn)),
        problems,
    )
    compare(
        "backfill job role (count, permissions)",
        backfill_role_permissions(sam),
        backfill_role_permissions(cdk),
        problems,
    )
    compare("alarms", alarms(sam), alarms(cdk), problems)

    sam_q, cdk_q = queues(sam), queues(cdk)
    for key in ("max_receive_count", "retention", "sse", "dlq_retention", "dlq_sse"):
        compare(f"ingest queue {key}", sam_q[key], cdk_q[key], problems)
    default_timeout = int(sam["Parameters"]["Timeout"]["Default"])
    sam_visibility = sam["Mappings"]["VisibilityForTimeout"][str(default_timeout)]["Seconds"]
    compare("queue visibility for the default timeout", sam_visibility, cdk_q["visibility"], problems)
    compare("default timeout", default_timeout, int(cp["Timeout"]), problems)
    for seconds, row in sam["Mappings"]["VisibilityForTimeout"].items():
        if row["Seconds"] != 6 * int(seconds) + 30:
            problems.append(f"SAM visibility for timeout {seconds}: {row['Seconds']} != 6 x timeout + 30")

    compare(
        "SNS topics",
        len(of_type(sam, "AWS::SNS::Topic")),
        len(of_type(cdk, "AWS::SNS::Topic")),
        problems,
    )
    for label, template in (("SAM", sam), ("CDK", cdk)):
        topics = of_type(template, "AWS::SNS::Topic")
        if not topics or not all("KmsMasterKeyId" in t["Properties"] for t in topics.values()):
            problems.append(f"{label}: every SNS topic must be KMS-encrypted")
    sam_tables = of_type(sam, "AWS::DynamoDB::Table")
    cdk_tables = of_type(cdk, "AWS::DynamoDB::Table")

    def table_shape(tables: dict[str, dict[str, Any]]) -> set[tuple[Any, ...]]:
        return {
            (
                str(t["Properties"]["KeySchema"]),
                t["Properties"].get("TimeToLiveSpecification", {}).get("AttributeName"),
                t["Properties"].get("BillingMode"),
            )
            for t in tables.values()
        }

    compare("DynamoDB tables (key, TTL attribute, billing)", table_shape(sam_tables), table_shape(cdk_tables), problems)
    return problems


if __name__ == "__main__":
    args = sys.argv[3:]
    enabled: list[str] | None = None
    if len(args) >= 2 and args[0] == "--conditions":
        enabled, args = args[1].split(","), args[2:]
    if len(sys.argv) < 3 or not all("=" in a for a in args):
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], enabled, dict(a.rsplit("=", 1) for a in args)))
