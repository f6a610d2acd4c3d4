//! `trailwatch` with a configuration file: `config check`, `scan --config --show-excepted`
//! (an exception suppressing a Stratus share, a Sigma rule alerting on a Stratus StopLogging),
//! and `rules test`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(args)
        .output()
        .expect("trailwatch runs")
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn temp_config(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trailwatch-cli-tuning-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn config(expires: &str) -> String {
    format!(
        "sigma:\n  directory: {sigma}\nexceptions:\n  - name: partner-dr\n    reason: DR copies to the partner\n    owner: platform@example.com\n    expires: {expires}\n    match:\n      rules: [resource-shared-with-external-account]\n      resources: ['snap-*']\n      external_accounts: ['098797384747']\n",
        sigma = repo("examples/tuning/sigma").display()
    )
}

fn alerts(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn config_check_accepts_the_example_and_names_the_line_of_an_error() {
    let ok = run(&[
        "config",
        "check",
        repo("examples/tuning/trailwatch.yml").to_str().unwrap(),
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("1 exceptions, 1 Sigma rules (0 refused)")
    );
    let bad = temp_config(
        "bad.yml",
        "min_severity: high\nrules:\n  resource-shared-with-external-account: {severity: critical}\n  no-such-rule: {enabled: false}\n",
    );
    let out = run(&["config", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 4: unknown rule id \"no-such-rule\""),
        "{err}"
    );
}

#[test]
fn an_exception_suppresses_the_share_and_a_sigma_rule_alerts() {
    let path = temp_config("live.yml", &config("2024-12-31"));
    let out = run(&[
        "scan",
        "--config",
        path.to_str().unwrap(),
        "--show-excepted",
        repo("tests/fixtures/stratus/aws.exfiltration.ec2-share-ebs-snapshot.json.gz")
            .to_str()
            .unwrap(),
        repo("tests/fixtures/stratus/aws.defense-evasion.cloudtrail-stop.json.gz")
            .to_str()
            .unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let ids: Vec<String> = alerts(&out)
        .iter()
        .map(|a| a["rule_id"].as_str().unwrap().to_owned())
        .collect();
    // The share is suppressed; the stopped trail raises the Sigma rule beside our own.
    assert_eq!(
        ids,
        vec![
            "cloudtrail-logging-stopped",
            "sigma-6f1e2d3c-0000-4a5b-8c9d-000000000001"
        ]
    );
    assert!(err.contains("excepted by \"partner-dr\""), "{err}");
    assert!(
        err.contains("exception \"partner-dr\" suppressed 1 alerts"),
        "{err}"
    );
    assert!(err.contains("1 suppressed by exceptions"), "{err}");
}

#[test]
fn after_its_expiry_the_share_alerts_and_names_the_exception() {
    let path = temp_config("expired.yml", &config("2024-07-31"));
    let out = run(&[
        "scan",
        "--config",
        path.to_str().unwrap(),
        repo("tests/fixtures/stratus/aws.exfiltration.ec2-share-ebs-snapshot.json.gz")
            .to_str()
            .unwrap(),
    ]);
    let found = alerts(&out);
    assert_eq!(found.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(found[0]["expired_exceptions"][0]["name"], "partner-dr");
    // The flag wins over the file: trusting the partner silences it without the exception.
    let trusted = run(&[
        "scan",
        "--config",
        path.to_str().unwrap(),
        "--trusted-accounts",
        "098797384747",
        repo("tests/fixtures/stratus/aws.exfiltration.ec2-share-ebs-snapshot.json.gz")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(trusted.status.code(), Some(0));
}

#[test]
fn rules_test_passes_the_example_and_fails_on_a_miss() {
    let ok = run(&[
        "rules",
        "test",
        repo("examples/tuning/sigma").to_str().unwrap(),
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let dir = temp_config("x", "").with_file_name("rules-test");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        repo("examples/tuning/sigma/cloudtrail_logging_stopped.yml"),
        dir.join("r.yml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("r.test.yml"),
        "match:\n  - {eventSource: cloudtrail.amazonaws.com, eventName: StartLogging}\n",
    )
    .unwrap();
    let miss = run(&["rules", "test", dir.to_str().unwrap()]);
    assert_eq!(miss.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&miss.stdout).contains("match[0] did not match"));
}

// ---------------------------------------------------------------- the README's worked examples
// Each "Tuning" example of README.md is run as written: its YAML blocks are taken from the
// README itself, so an example that stops working fails here.

/// The `nth` fenced block of language `lang` under the README heading `heading`.
fn readme_block(heading: &str, lang: &str, nth: usize) -> String {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README has no {heading:?}"));
    let section = &readme[start + heading.len()..];
    let section = &section[..section.find("\n#").unwrap_or(section.len())];
    let fence = format!("```{lang}\n");
    let mut rest = section;
    for _ in 0..nth {
        rest = &rest[rest.find(&fence).expect("block") + fence.len()..];
    }
    let body = &rest[rest.find(&fence).expect("block") + fence.len()..];
    body[..body.find("```").expect("closing fence")].to_owned()
}

/// An EBS snapshot share as CloudTrail logs it (ModifySnapshotAttribute, createVolumePermission
/// add), shaped on the Stratus Red Team recording aws.exfiltration.ec2-share-ebs-snapshot, made
/// by `actor` (a role session when it names `assumed-role`) with `accounts` at `time`.
fn snapshot_share(name: &str, actor: &str, accounts: &[&str], time: &str) -> PathBuf {
    let identity = if let Some(rest) = actor.strip_prefix("arn:aws:sts::756680937392:assumed-role/")
    {
        let role = rest.split('/').next().unwrap();
        serde_json::json!({
            "type": "AssumedRole", "principalId": "AROAEXAMPLEROLEID:ci", "arn": actor,
            "accountId": "756680937392", "accessKeyId": "ASIAEXAMPLEKEY",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLEID",
                    "arn": format!("arn:aws:iam::756680937392:role/{role}"),
                    "accountId": "756680937392", "userName": role},
                "attributes": {"creationDate": "2026-11-02T02:00:00Z", "mfaAuthenticated": "false"}
            }
        })
    } else {
        serde_json::json!({"type": "IAMUser", "principalId": "AIDA7ETKRIUXU83QKECM", "arn": actor,
            "accountId": "756680937392", "userName": "christophe"})
    };
    let items: Vec<Value> = accounts
        .iter()
        .map(|a| serde_json::json!({"userId": a}))
        .collect();
    let log = serde_json::json!({"Records": [{
        "eventVersion": "1.09", "eventSource": "ec2.amazonaws.com",
        "eventName": "ModifySnapshotAttribute", "eventType": "AwsApiCall",
        "eventID": "6897ff63-d738-445c-9e86-43e5b1f8e12f", "eventTime": time,
        "awsRegion": "us-east-1", "recipientAccountId": "756680937392",
        "sourceIPAddress": "203.0.113.10", "userAgent": "APN/1.0 HashiCorp/1.0 Terraform/1.9.0",
        "userIdentity": identity,
        "requestParameters": {"attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": {"add": {"items": items}},
            "snapshotId": "snap-041993b54a9b3af6f"},
        "responseElements": {"_return": true},
        "readOnly": false, "managementEvent": true
    }]});
    temp_config(name, &log.to_string())
}

#[test]
fn readme_silence_the_terraform_roles_snapshot_shares_until_a_date() {
    let heading =
        "### Silence the Terraform role's snapshot shares with one partner account, until a date";
    let config = temp_config("readme-terraform.yml", &readme_block(heading, "yaml", 0));
    let check = run(&["config", "check", config.to_str().unwrap()]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let scan = |log: &Path| {
        let out = run(&[
            "scan",
            "--config",
            config.to_str().unwrap(),
            log.to_str().unwrap(),
        ]);
        (
            alerts(&out),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let role = "arn:aws:sts::756680937392:assumed-role/terraform/ci";
    let partner = "444455556666";

    // The nightly copy by any session of the role, to the partner, before the expiry: silent.
    let (found, err) = scan(&snapshot_share(
        "tf-ok.json",
        role,
        &[partner],
        "2026-11-02T02:10:07Z",
    ));
    assert!(found.is_empty(), "{found:?}");
    assert!(
        err.contains("exception \"terraform-snapshot-dr-copy\" suppressed 1 alerts"),
        "{err}"
    );
    // Through the last day of the expiry date (UTC).
    let (found, _) = scan(&snapshot_share(
        "tf-last-day.json",
        role,
        &[partner],
        "2027-03-31T23:59:59Z",
    ));
    assert!(found.is_empty(), "{found:?}");

    // The partner and a stranger: the exception does not hide the stranger.
    let (found, _) = scan(&snapshot_share(
        "tf-stranger.json",
        role,
        &[partner, "999988887777"],
        "2026-11-02T02:10:07Z",
    ));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["rule_id"], "resource-shared-with-external-account");
    // Someone else sharing with the partner still alerts.
    let (found, _) = scan(&snapshot_share(
        "tf-user.json",
        "arn:aws:iam::756680937392:user/christophe",
        &[partner],
        "2026-11-02T02:10:07Z",
    ));
    assert_eq!(found.len(), 1);
    // After the expiry the share alerts and names the lapsed exception, as the README shows.
    let (found, _) = scan(&snapshot_share(
        "tf-expired.json",
        role,
        &[partner],
        "2027-04-01T00:00:00Z",
    ));
    assert_eq!(found.len(), 1);
    let shown: Value =
        serde_json::from_str(&format!("{{{}}}", readme_block(heading, "json", 0))).unwrap();
    assert_eq!(
        found[0]["expired_exceptions"], shown["expired_exceptions"],
        "the README's expired_exceptions example is what the alert carries"
    );
}

#[test]
fn readme_page_only_on_high() {
    let config = temp_config(
        "readme-high.yml",
        &readme_block("### Page only on high", "yaml", 0),
    );
    let check = run(&["config", "check", config.to_str().unwrap()]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // A low alert (a Lambda layer added, Stratus aws.persistence.lambda-layer-extension) is
    // raised without the file and not with it.
    let layer = repo("tests/fixtures/stratus/aws.persistence.lambda-layer-extension.json.gz");
    let plain = alerts(&run(&["scan", layer.to_str().unwrap()]));
    assert!(plain.iter().any(|a| a["severity"] == "low"), "{plain:?}");
    let tuned = alerts(&run(&[
        "scan",
        "--config",
        config.to_str().unwrap(),
        layer.to_str().unwrap(),
    ]));
    assert!(tuned.is_empty(), "{tuned:?}");
    // The share rule is raised to critical.
    let share = repo("tests/fixtures/stratus/aws.exfiltration.ec2-share-ebs-snapshot.json.gz");
    let shared = alerts(&run(&[
        "scan",
        "--config",
        config.to_str().unwrap(),
        share.to_str().unwrap(),
    ]));
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0]["severity"], "critical");
}

#[test]
fn readme_add_a_sigma_rule_and_test_it() {
    let heading = "### Add a Sigma rule and test it";
    let dir = temp_config("x", "").with_file_name("readme-sigma");
    std::fs::create_dir_all(dir.join("sigma")).unwrap();
    // The rule and its example records exactly as the README shows them.
    std::fs::write(
        dir.join("sigma/cloudtrail_logging_stopped.yml"),
        readme_block(heading, "yaml", 1),
    )
    .unwrap();
    std::fs::write(
        dir.join("sigma/cloudtrail_logging_stopped.test.yml"),
        readme_block(heading, "yaml", 2),
    )
    .unwrap();
    let tested = run(&["rules", "test", dir.join("sigma").to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&tested.stdout);
    assert_eq!(tested.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("ok   sigma-6f1e2d3c-0000-4a5b-8c9d-000000000001"),
        "{stdout}"
    );
    // The README's console output is what `rules test` prints for the example directory.
    let console = readme_block(heading, "console", 0);
    let shown: Vec<&str> = console.lines().skip(1).collect();
    let example = run(&[
        "rules",
        "test",
        repo("examples/tuning/sigma").to_str().unwrap(),
    ]);
    let printed = String::from_utf8_lossy(&example.stdout);
    assert_eq!(printed.lines().collect::<Vec<_>>(), shown);
    // The README's configuration snippet names the directory; the rule then alerts on the
    // Stratus StopLogging recording.
    std::fs::write(dir.join("trailwatch.yml"), readme_block(heading, "yaml", 0)).unwrap();
    let found = alerts(&run(&[
        "scan",
        "--config",
        dir.join("trailwatch.yml").to_str().unwrap(),
        repo("tests/fixtures/stratus/aws.defense-evasion.cloudtrail-stop.json.gz")
            .to_str()
            .unwrap(),
    ]));
    assert!(
        found
            .iter()
            .any(|a| a["rule_id"] == "sigma-6f1e2d3c-0000-4a5b-8c9d-000000000001"),
        "{found:?}"
    );
}

/// SigmaHQ 905d389b's detection (AWS STS AssumeRole Misuse): only the caller's type.
const CALLER_TYPE_ONLY_RULE: &str = "title: AWS STS AssumeRole Misuse (detection of SigmaHQ 905d389b)\nid: 905d389b-b853-46d0-9d3d-dea0d3a3cd49\nstatus: test\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  selection:\n    userIdentity.type: AssumedRole\n    userIdentity.sessionContext.sessionIssuer.type: Role\n  condition: selection\nlevel: low\n";

#[test]
fn config_check_refuses_a_caller_type_only_rule_unless_the_config_allows_it() {
    let dir =
        std::env::temp_dir().join(format!("trailwatch-cli-caller-type-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sigma")).unwrap();
    std::fs::write(dir.join("sigma/assume_role.yml"), CALLER_TYPE_ONLY_RULE).unwrap();
    let by_default = dir.join("default.yml");
    std::fs::write(&by_default, "sigma:\n  directory: sigma\n").unwrap();
    let out = run(&["config", "check", by_default.to_str().unwrap()]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stdout.contains("0 Sigma rules (1 refused)"), "{stdout}");
    assert!(
        stderr.contains("constrains only the caller's type")
            && stderr.contains("allow_caller_type_only"),
        "{stderr}"
    );
    let allowed = dir.join("allowed.yml");
    std::fs::write(
        &allowed,
        "sigma:\n  directory: sigma\n  allow_caller_type_only: true\n",
    )
    .unwrap();
    let out = run(&["config", "check", allowed.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("1 Sigma rules (0 refused)"), "{stdout}");
}
