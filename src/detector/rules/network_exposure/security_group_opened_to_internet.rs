//! `security-group-opened-to-internet`
//!
//! **What it detects.** A successful `AuthorizeSecurityGroupIngress` that lets in the whole IPv4
//! or IPv6 internet (a CIDR with prefix length 0: `0.0.0.0/0`, `::/0`), read from both request
//! shapes CloudTrail logs: the legacy flat parameters (`cidrIp`, `ipProtocol`, `fromPort`,
//! `toPort`) and `ipPermissions.items[]` (`ipRanges.items[].cidrIp`, `ipv6Ranges.items[].cidrIpv6`).
//! Also `ModifySecurityGroupRules` that rewrites a rule to such a CIDR (low severity: the record
//! does not say whether the rule is ingress or egress). The protocol and port ranges are in the
//! alert.
//!
//! **Why it matters.** An SSH, RDP or database port open to the internet is how a host gets
//! brute-forced or exploited; attackers open one to reach a foothold or exfiltrate (Stratus
//! `aws.exfiltration.ec2-security-group-open-port-22-ingress`).
//!
//! **Published rule.** Elastic "Insecure AWS EC2 VPC Security Group Ingress Rule Added"
//! (25e7fee6-fc25-11ee-ba0f-f661ea17fbce).
//!
//! **How we differ.** Elastic reads only `ipPermissions.items` with the exact strings
//! `0.0.0.0/0` or `::/0` and only a `fromPort` in a fixed list, so the legacy flat parameters
//! (the shape the Stratus detonation logged), ranges that contain port 22 (`0-65535`) and
//! protocol `-1` (all traffic) slip through. We read both shapes, judge the CIDR by its prefix
//! length, and grade: high when all traffic or a remote-administration or database port is
//! opened, low when only 80 and 443 are, medium otherwise. Sigma's "Ingress/Egress Security
//! Group Modification" (6fb77778-040f-4015-9440-572aa9b6b580) fires on every change.
//!
//! **Blind spots.** Broad but not universal ranges (`0.0.0.0/1`), prefix lists and referenced
//! security groups are not judged. Whether the group is attached to anything reachable is not
//! known from the record.

use crate::detector::record::Record;
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::actor_name;
use crate::detector::text::clean;
use serde_json::{Value, json};

/// The rule value registered in the catalogue.
pub static RULE: SecurityGroupOpenedToInternet = SecurityGroupOpenedToInternet;

/// See the module documentation.
pub struct SecurityGroupOpenedToInternet;

const EC2: &str = "ec2.amazonaws.com";

/// Ports whose exposure to the internet is an emergency: remote administration, file sharing
/// and databases.
const SENSITIVE_PORTS: &[i64] = &[
    20, 21, 22, 23, 135, 139, 445, 1433, 1521, 2375, 2376, 3306, 3389, 5432, 5900, 5985, 5986,
    6379, 9200, 11211, 27017,
];

/// Ports that web servers open to everyone by design.
const WEB_PORTS: &[i64] = &[80, 443];

static META: RuleMeta = RuleMeta {
    id: "security-group-opened-to-internet",
    title: "Security group opened to the internet",
    description: "A security group rule was added (or rewritten) that lets in any IPv4 or IPv6 \
        address. Attackers open SSH, RDP or database ports to reach hosts directly.",
    severity: Severity::Medium,
    risk_score: 55,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0005",
            tactic_name: "Defense Evasion",
            technique_id: "T1562.007",
            technique_name: "Impair Defenses: Disable or Modify Cloud Firewall",
        },
        Attack {
            tactic_id: "TA0010",
            tactic_name: "Exfiltration",
            technique_id: "T1048",
            technique_name: "Exfiltration Over Alternative Protocol",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.exfiltration.ec2-security-group-open-port-22-ingress/",
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AuthorizeSecurityGroupIngress.html",
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySecurityGroupRules.html",
        "https://www.elastic.co/guide/en/security/current/insecure-aws-ec2-vpc-security-group-ingress-rule-added.html",
    ],
    false_positives: &[
        "Public web front ends opening 80/443 (reported at low severity).",
        "Bastion hosts or VPN endpoints deliberately open to the internet; prefer narrowing them \
         to known address ranges.",
    ],
    triage: &[
        "Read details.group_id and details.permissions (protocol, ports, CIDR): what is now reachable from anywhere?",
        "Find what uses the group (DescribeNetworkInterfaces with group-id) and whether those hosts have public addresses.",
        "Identify the actor (actor.arn, actor.source_ip, actor.user_agent) and whether it manages networking.",
        "If unapproved: revoke the rule (RevokeSecurityGroupIngress with the rule id in the response), and look for connections to the port since (VPC flow logs).",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "Insecure AWS EC2 VPC Security Group Ingress Rule Added",
        id: "25e7fee6-fc25-11ee-ba0f-f661ea17fbce",
    },
    notes: &[
        "Reads the legacy flat parameters too (Elastic reads only ipPermissions.items).",
        "Any CIDR with prefix length 0 is the whole internet, whatever its address part.",
        "All-traffic rules and port ranges that contain a sensitive port are high; 80/443 only is low.",
        "ModifySecurityGroupRules is reported at low severity: the record does not say ingress or egress.",
    ],
    events: &[
        EventSelector::exact(EC2, "AuthorizeSecurityGroupIngress"),
        EventSelector::exact(EC2, "ModifySecurityGroupRules"),
    ],
    failed_calls: FailedCalls::Ignore,
};

/// True for a CIDR that covers the whole IPv4 or IPv6 space (prefix length 0).
fn is_whole_internet(cidr: &str) -> bool {
    cidr.trim()
        .rsplit_once('/')
        .is_some_and(|(_, len)| len.trim().parse::<u8>() == Ok(0))
}

/// A port number logged as a number or a numeric string.
fn port(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str)
}

/// The elements of an EC2 list: `{"items": [...]}`, `{"items": {...}}`, a bare array, or `{}`.
fn items(value: Option<&Value>) -> Vec<&Value> {
    let inner = match value {
        Some(Value::Object(map)) => map.get("items"),
        other => other,
    };
    match inner {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

/// One opening to the internet: protocol, port range and CIDR.
#[derive(Debug, Clone, PartialEq)]
struct Opening {
    protocol: String,
    from_port: Option<i64>,
    to_port: Option<i64>,
    cidr: String,
}

impl Opening {
    fn all_traffic(&self) -> bool {
        matches!(self.protocol.as_str(), "-1" | "all")
    }

    /// Whether the opened range contains any of `ports` (all traffic contains every port;
    /// ICMP has none).
    fn covers_any(&self, ports: &[i64]) -> bool {
        if self.all_traffic() {
            return true;
        }
        if !matches!(
            self.protocol.to_ascii_lowercase().as_str(),
            "tcp" | "udp" | "6" | "17"
        ) {
            return false;
        }
        let (from, to) = match (self.from_port, self.to_port) {
            (Some(from), Some(to)) if from >= 0 && to >= 0 => (from, to),
            _ => return true,
        };
        ports.iter().any(|p| (from..=to).contains(p))
    }

    fn only_web(&self) -> bool {
        !self.all_traffic()
            && matches!((self.from_port, self.to_port), (Some(f), Some(t)) if f == t && WEB_PORTS.contains(&f))
    }

    fn describe(&self) -> String {
        if self.all_traffic() {
            return format!("all traffic from {}", clean(&self.cidr, 64));
        }
        let ports = match (self.from_port, self.to_port) {
            (Some(f), Some(t)) if f == t => format!(" port {f}"),
            (Some(f), Some(t)) => format!(" ports {f}-{t}"),
            _ => String::new(),
        };
        format!(
            "{}{} from {}",
            clean(&self.protocol, 16),
            ports,
            clean(&self.cidr, 64)
        )
    }
}

/// Openings in an `AuthorizeSecurityGroupIngress` request, both shapes.
fn ingress_openings(params: &Value) -> Vec<Opening> {
    let mut out = Vec::new();
    let mut push = |permission: &Value, cidr: &str| {
        if is_whole_internet(cidr) {
            out.push(Opening {
                protocol: text(permission.get("ipProtocol")).unwrap_or("").to_owned(),
                from_port: port(permission.get("fromPort")),
                to_port: port(permission.get("toPort")),
                cidr: cidr.to_owned(),
            });
        }
    };
    // Legacy flat parameters: one CIDR beside the protocol and ports.
    if let Some(cidr) = text(params.get("cidrIp")) {
        push(params, cidr);
    }
    for permission in items(params.get("ipPermissions")) {
        for range in items(permission.get("ipRanges")) {
            if let Some(cidr) = text(range.get("cidrIp")) {
                push(permission, cidr);
            }
        }
        for range in items(permission.get("ipv6Ranges")) {
            if let Some(cidr) = text(range.get("cidrIpv6")) {
                push(permission, cidr);
            }
        }
    }
    out
}

/// Openings in a `ModifySecurityGroupRules` request
/// (`ModifySecurityGroupRulesRequest.SecurityGroupRule[].SecurityGroupRule`).
fn modified_openings(params: &Value) -> Vec<(String, Opening)> {
    let request = params
        .get("ModifySecurityGroupRulesRequest")
        .unwrap_or(params);
    let updates = match request.get("SecurityGroupRule") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for update in updates {
        let rule_id = text(update.get("SecurityGroupRuleId"))
            .unwrap_or("")
            .to_owned();
        let Some(rule) = update.get("SecurityGroupRule") else {
            continue;
        };
        for key in ["CidrIpv4", "CidrIpv6"] {
            if let Some(cidr) = text(rule.get(key)).filter(|c| is_whole_internet(c)) {
                out.push((
                    rule_id.clone(),
                    Opening {
                        protocol: text(rule.get("IpProtocol")).unwrap_or("").to_owned(),
                        from_port: port(rule.get("FromPort")),
                        to_port: port(rule.get("ToPort")),
                        cidr: cidr.to_owned(),
                    },
                ));
            }
        }
    }
    out
}

impl Rule for SecurityGroupOpenedToInternet {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let params: Value = record.require_request_parameters()?;
        if !params.is_object() {
            return Err(Unevaluable::malformed(
                "requestParameters",
                "expected an object",
            ));
        }
        let modify = record.name() == "ModifySecurityGroupRules";
        let (group, openings, rule_ids) = if modify {
            let request = params
                .get("ModifySecurityGroupRulesRequest")
                .unwrap_or(&params);
            let found = modified_openings(&params);
            let ids: Vec<String> = found.iter().map(|(id, _)| id.clone()).collect();
            (
                text(request.get("GroupId")).unwrap_or("").to_owned(),
                found.into_iter().map(|(_, o)| o).collect::<Vec<_>>(),
                ids,
            )
        } else {
            let group = text(params.get("groupId"))
                .or_else(|| text(params.get("groupName")))
                .unwrap_or("")
                .to_owned();
            (group, ingress_openings(&params), Vec::new())
        };
        if openings.is_empty() {
            return Ok(None);
        }
        let severity = if modify {
            Severity::Low
        } else if openings
            .iter()
            .any(|o| o.all_traffic() || o.covers_any(SENSITIVE_PORTS))
        {
            Severity::High
        } else if openings.iter().all(Opening::only_web) {
            Severity::Low
        } else {
            Severity::Medium
        };
        let described: Vec<String> = openings.iter().take(4).map(Opening::describe).collect();
        let summary = format!(
            "{} {} security group {} to the internet: {}{}",
            actor_name(record),
            if modify {
                "rewrote a rule of"
            } else {
                "opened"
            },
            clean(&group, 64),
            described.join("; "),
            if modify {
                " (ingress or egress: not in the record)"
            } else {
                ""
            }
        );
        let permissions: Vec<Value> = openings
            .iter()
            .map(|o| {
                json!({"protocol": o.protocol, "from_port": o.from_port,
                       "to_port": o.to_port, "cidr": o.cidr})
            })
            .collect();
        Ok(Some(
            Finding::new(
                summary,
                json!({
                    "group_id": group,
                    "permissions": permissions,
                    "security_group_rule_ids": rule_ids,
                }),
                vec![group.clone(), described.join(";")],
            )
            .with_severity(severity),
        ))
    }
}

#[cfg(test)]
mod tests;
