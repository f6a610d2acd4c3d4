//! Tests for `security_group_opened_to_internet`.

use super::*;
use crate::detector::rules::testing::{assert_fires, assert_silent, assert_unevaluable};

fn call(name: &str, params: Value) -> String {
    json!({"eventVersion": "1.09", "eventSource": EC2, "eventName": name,
            "awsRegion": "us-east-1", "eventID": "9fd68588", "recipientAccountId": "032092706103",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::032092706103:user/christophe",
                "accountId": "032092706103"},
            "requestParameters": params, "responseElements": {"_return": true}})
    .to_string()
}

fn permission(protocol: Value, from: Value, to: Value, v4: &[&str], v6: &[&str]) -> Value {
    json!({"ipProtocol": protocol, "fromPort": from, "toPort": to, "groups": {},
            "ipRanges": {"items": v4.iter().map(|c| json!({"cidrIp": c})).collect::<Vec<_>>()},
            "ipv6Ranges": {"items": v6.iter().map(|c| json!({"cidrIpv6": c})).collect::<Vec<_>>()},
            "prefixListIds": {}})
}

fn ingress(permissions: Vec<Value>) -> String {
    call(
        "AuthorizeSecurityGroupIngress",
        json!({"groupId": "sg-0d921df5d84f7270a", "ipPermissions": {"items": permissions}}),
    )
}

#[test]
fn stratus_legacy_flat_parameters_fire_with_the_port() {
    // aws.exfiltration.ec2-security-group-open-port-22-ingress.json (Stratus): the recording
    // anonymised 0.0.0.0 but kept the /0.
    let record = call(
        "AuthorizeSecurityGroupIngress",
        json!({"cidrIp": "208.236.235.254/0", "fromPort": 22, "groupId": "sg-003dc7f1f1c686164",
                "ipPermissions": {}, "ipProtocol": "tcp", "toPort": 22}),
    );
    let f = assert_fires(&RULE, &record);
    assert_eq!(f.severity, Some(Severity::High));
    assert_eq!(f.details["permissions"][0]["from_port"], 22);
    assert!(
        f.summary.contains("tcp port 22 from 208.236.235.254/0"),
        "{}",
        f.summary
    );
}

#[test]
fn ip_permissions_items_fire_for_ipv4_and_ipv6() {
    // Panther AWS.EC2.ManualSecurityGroupChange test: tcp 22 from 0.0.0.0/0, SDK client.
    let f = assert_fires(
        &RULE,
        &ingress(vec![permission(
            json!("tcp"),
            json!(22),
            json!(22),
            &["0.0.0.0/0"],
            &[],
        )]),
    );
    assert_eq!(f.details["permissions"][0]["cidr"], "0.0.0.0/0");
    let f = assert_fires(
        &RULE,
        &ingress(vec![permission(
            json!("tcp"),
            json!("8080"),
            json!("8080"),
            &[],
            &["::/0"],
        )]),
    );
    assert_eq!(f.severity, Some(Severity::Medium));
    assert_eq!(f.details["permissions"][0]["to_port"], 8080);
}

#[test]
fn severity_follows_what_is_opened() {
    let all = ingress(vec![permission(
        json!("-1"),
        json!(-1),
        json!(-1),
        &["0.0.0.0/0"],
        &[],
    )]);
    let f = assert_fires(&RULE, &all);
    assert_eq!(f.severity, Some(Severity::High));
    assert!(f.summary.contains("all traffic"));
    let range = ingress(vec![permission(
        json!("tcp"),
        json!(0),
        json!(65535),
        &["0.0.0.0/0"],
        &[],
    )]);
    assert_eq!(assert_fires(&RULE, &range).severity, Some(Severity::High));
    let web = ingress(vec![
        permission(
            json!("tcp"),
            json!(443),
            json!(443),
            &["0.0.0.0/0"],
            &["::/0"],
        ),
        permission(json!("tcp"), json!(80), json!(80), &["0.0.0.0/0"], &[]),
    ]);
    assert_eq!(assert_fires(&RULE, &web).severity, Some(Severity::Low));
    let icmp = ingress(vec![permission(
        json!("icmp"),
        json!(8),
        json!(-1),
        &["0.0.0.0/0"],
        &[],
    )]);
    assert_eq!(assert_fires(&RULE, &icmp).severity, Some(Severity::Medium));
}

#[test]
fn narrow_ranges_groups_and_failures_are_silent() {
    // Panther's console case: 0.0.0.0/16 is not the internet.
    assert_silent(
        &RULE,
        &ingress(vec![permission(
            json!("tcp"),
            json!("443"),
            json!("443"),
            &["0.0.0.0/16"],
            &[],
        )]),
    );
    assert_silent(
        &RULE,
        &ingress(vec![permission(
            json!("tcp"),
            json!(22),
            json!(22),
            &["10.0.0.0/8"],
            &["2001:db8::/32"],
        )]),
    );
    let from_group = call(
        "AuthorizeSecurityGroupIngress",
        json!({"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 5432,
                "toPort": 5432, "groups": {"items": [{"groupId": "sg-2"}]}, "ipRanges": {}, "ipv6Ranges": {}}]}}),
    );
    assert_silent(&RULE, &from_group);
    let mut failed: Value = serde_json::from_str(&ingress(vec![permission(
        json!("tcp"),
        json!(22),
        json!(22),
        &["0.0.0.0/0"],
        &[],
    )]))
    .unwrap();
    failed["errorCode"] = json!("Client.UnauthorizedOperation");
    assert_silent(&RULE, &failed.to_string());
    assert_unevaluable(&RULE, &call("AuthorizeSecurityGroupIngress", Value::Null));
}

#[test]
fn modify_security_group_rules_is_low() {
    // ModifySecurityGroupRulesRequest as CloudTrail logs it (query-API casing), e.g. the
    // field paths used by published CloudTrail Lake and EventBridge examples.
    let record = call(
        "ModifySecurityGroupRules",
        json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-1", "SecurityGroupRule":
                {"SecurityGroupRuleId": "sgr-1", "tag": 1, "SecurityGroupRule":
                {"CidrIpv4": "0.0.0.0/0", "FromPort": 3389, "ToPort": 3389, "IpProtocol": "tcp"}}}}),
    );
    let f = assert_fires(&RULE, &record);
    assert_eq!(f.severity, Some(Severity::Low));
    assert_eq!(f.details["security_group_rule_ids"], json!(["sgr-1"]));
    let narrow = call(
        "ModifySecurityGroupRules",
        json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-1", "SecurityGroupRule":
                [{"SecurityGroupRuleId": "sgr-1", "SecurityGroupRule":
                {"CidrIpv4": "192.0.2.0/24", "FromPort": 22, "ToPort": 22, "IpProtocol": "tcp"}}]}}),
    );
    assert_silent(&RULE, &narrow);
}
