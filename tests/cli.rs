//! `trailwatch` as a user runs it: exit codes, stdout/stderr discipline, formats, rule listing.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailwatch"))
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("trailwatch runs")
}

fn stdout_alerts(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is one alert"))
        .collect()
}

#[test]
fn scanning_a_directory_prints_one_alert_per_line_and_exits_1() {
    let dir = fixture("stratus");
    let out = run(&["scan", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = stdout_alerts(&out);
    // tests/samples.rs pins which rules fire on which sample; here, the CLI's shape.
    let shares = alerts
        .iter()
        .filter(|a| a["rule_id"] == "resource-shared-with-external-account")
        .count();
    assert_eq!(shares, 4);
    // Threshold rules count across the whole scan and print one alert per burst, released.
    let mut bursts: Vec<&str> = alerts
        .iter()
        .filter(|a| !a["threshold"].is_null())
        .map(|a| {
            assert!(a["threshold"]["distinct"].as_u64().is_some(), "{a}");
            a["rule_id"].as_str().unwrap()
        })
        .collect();
    bursts.sort();
    assert_eq!(
        bursts,
        [
            "ec2-instance-launches-failed-in-bulk",
            "ec2-password-data-read-in-bulk",
            "ec2-user-data-read-in-bulk",
            "secretsmanager-secrets-read-in-bulk",
            "secretsmanager-secrets-read-in-bulk",
            "ssm-secure-parameters-read-in-bulk",
        ]
    );
    for a in &alerts {
        for field in [
            "title",
            "severity",
            "risk_score",
            "summary",
            "event_id",
            "event_time",
            "event_name",
            "event_source",
            "account_id",
            "region",
            "actor",
            "details",
            "mitre_attack",
            "references",
            "triage",
            "dedup_key",
            "log_object",
            "record",
        ] {
            assert!(!a[field].is_null(), "alert field {field} missing: {a}");
        }
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("35 files"), "{stderr}");
    assert!(stderr.contains("310 records"), "{stderr}");
    assert!(
        stderr.contains(&format!("{} alerts", alerts.len())),
        "{stderr}"
    );
}

#[test]
fn a_clean_file_exits_0_with_nothing_on_stdout() {
    let out = run(&[
        "scan",
        fixture("quiet/routine-bedrock-reads.json.gz")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unreadable_input_exits_2_but_the_others_are_still_scanned() {
    let out = run(&[
        "scan",
        fixture("bad/truncated-json.json.gz").to_str().unwrap(),
        "/nonexistent/trail.json.gz",
        fixture("stratus/aws.exfiltration.ec2-share-ami.json.gz")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let alerts = stdout_alerts(&out);
    // The truncated file's first record is still detected, then the AMI share.
    let rules: Vec<&str> = alerts
        .iter()
        .map(|a| a["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        vec![
            "s3-bucket-config-modified",
            "resource-shared-with-external-account"
        ]
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("truncated-json.json.gz: corrupt log object"),
        "{stderr}"
    );
    assert!(stderr.contains("/nonexistent/trail.json.gz"), "{stderr}");
    assert!(stderr.contains("2 errors"), "{stderr}");
}

#[test]
fn stdin_is_read_with_a_dash() {
    let mut child = bin()
        .args(["scan", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let body = std::fs::read(fixture(
        "stratus/aws.exfiltration.rds-share-snapshot.json.gz",
    ))
    .unwrap();
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let alerts = stdout_alerts(&out);
    assert_eq!(alerts[0]["details"]["resource"], "exfiltration");
    assert_eq!(alerts[0]["log_object"]["location"], "-");
}

#[test]
fn filters_trusted_accounts_rules_and_severity() {
    let dir = fixture("stratus");
    let dir = dir.to_str().unwrap();
    let all = stdout_alerts(&run(&["scan", dir]));
    let count =
        |alerts: &[Value], rule: &str| alerts.iter().filter(|a| a["rule_id"] == rule).count();
    let share = "resource-shared-with-external-account";
    let trusted = stdout_alerts(&run(&[
        "scan",
        "--trusted-accounts",
        "846424999548,098797384747,193672423079",
        dir,
    ]));
    assert_eq!(count(&trusted, share), 2);
    let excluded = stdout_alerts(&run(&["scan", "--exclude-rules", share, dir]));
    assert_eq!(count(&excluded, share), 0);
    assert_eq!(excluded.len(), all.len() - 4);
    let only = run(&["scan", "--rules", "s3-bucket-config-modified", dir]);
    assert_eq!(only.status.code(), Some(0));
    let at_least = |floor: &[&str]| {
        all.iter()
            .filter(|a| floor.contains(&a["severity"].as_str().unwrap()))
            .count()
    };
    let critical = run(&["scan", "--min-severity", "critical", dir]);
    assert_eq!(stdout_alerts(&critical).len(), at_least(&["critical"]));
    let high = run(&["scan", "--min-severity", "high", dir]);
    assert_eq!(stdout_alerts(&high).len(), at_least(&["high", "critical"]));
    assert!(at_least(&["high", "critical"]) >= 4);
}

#[test]
fn bad_settings_are_named() {
    let out = run(&["scan", "--trusted-accounts", "12345", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--trusted-accounts") && stderr.contains("\"12345\""),
        "{stderr}"
    );
    let out = run(&["scan", "--trusted-organizations", "o-short", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--trusted-organizations") && stderr.contains("\"o-short\""),
        "{stderr}"
    );
    let out = run(&["scan", "--rules", "no-such-rule", "x"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown rule id"));
    let out = run(&["scan", "--min-severity", "urgent", "x"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn text_format_is_readable_and_escaped() {
    let out = run(&[
        "scan",
        "--format",
        "text",
        fixture("stratus/aws.persistence.lambda-backdoor-function.json.gz")
            .to_str()
            .unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("[HIGH] Resource shared with an unknown external account"),
        "{text}"
    );
    assert!(text.contains("everyone (public)"), "{text}");
}

#[test]
fn ocsf_format_prints_one_detection_finding_per_line() {
    let dir = fixture("stratus");
    let alerts = stdout_alerts(&run(&["scan", dir.to_str().unwrap()]));
    let out = run(&["scan", "--format", "ocsf", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let events = stdout_alerts(&out);
    assert_eq!(events.len(), alerts.len());
    assert!(!events.is_empty());
    for (e, alert) in events.iter().zip(&alerts) {
        assert_eq!(e["class_uid"], 2004);
        assert_eq!(e["type_uid"], 200401);
        assert_eq!(e["metadata"]["version"], "1.1.0");
        assert_eq!(e["metadata"]["product"]["vendor_name"], "trailwatch");
        assert_eq!(e["cloud"]["provider"], "AWS");
        assert!(e["time"].as_i64().unwrap() > 1_500_000_000_000, "{e}");
        let rule = alert["rule_id"].as_str().unwrap();
        assert_eq!(e["finding_info"]["analytic"]["uid"], rule);
        assert!(
            e["finding_info"]["uid"]
                .as_str()
                .unwrap()
                .starts_with(&format!("trailwatch/{rule}/"))
        );
    }
}

#[test]
fn email_format_prints_what_a_subscriber_reads() {
    let out = run(&[
        "scan",
        "--format",
        "email",
        fixture("stratus/aws.exfiltration.ec2-share-ami.json.gz")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(
            "Subject: [HIGH] Resource shared with an unknown external account\n\n[HIGH] Resource shared"
        ),
        "{text}"
    );
    assert!(
        text.contains("\nOUTSIDE PARTIES\n  Accounts         846424999548\n"),
        "{text}"
    );
    assert!(
        text.contains("#/events/1f00bcfa-e050-4c2e-b99b-768ebe3a3dd3"),
        "{text}"
    );
}

#[test]
fn rules_lists_the_catalogue() {
    let out = run(&["rules"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for id in [
        "s3-bucket-policy-shared-externally",
        "s3-bucket-config-modified",
        "resource-shared-with-external-account",
        "s3-object-encrypted-with-external-kms-key",
    ] {
        assert!(text.contains(id), "{id} missing from:\n{text}");
    }
    let json = run(&["rules", "--format", "json"]);
    let rules: Vec<Value> = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(rules.len(), trailwatch::detector::rules::CATALOGUE.len());
    assert_eq!(rules[0]["dedup_period_minutes"], 60);
    assert!(
        rules
            .iter()
            .all(|r| r["mitre_attack"].as_array().is_some_and(|a| !a.is_empty()))
    );
}

/// A fresh directory under the system temp dir, removed at the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("trailwatch-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn put(&self, rel: &str, fixture_name: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::copy(fixture(fixture_name), &path).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+rwx")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const AMI: &str = "stratus/aws.exfiltration.ec2-share-ami.json.gz";
const RDS: &str = "stratus/aws.exfiltration.rds-share-snapshot.json.gz";

/// Runs `cmd`, failing the test instead of hanging when it does not finish within 60 s.
fn run_bounded(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("trailwatch hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[test]
fn a_fifo_found_in_a_walk_is_skipped_with_a_warning() {
    let dir = TempDir::new("fifo");
    dir.put("a/share.json.gz", AMI);
    mkfifo(&dir.0.join("a/trap.json.gz"));
    let mut cmd = bin();
    cmd.args(["scan", dir.0.to_str().unwrap()]);
    let out = run_bounded(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout_alerts(&out).len(), 1);
    assert!(
        stderr.contains("trap.json.gz: not a regular file"),
        "{stderr}"
    );
}

#[test]
fn a_pipe_named_on_the_command_line_is_read_as_a_stream() {
    let dir = TempDir::new("pipe");
    let pipe = dir.0.join("from-s3");
    mkfifo(&pipe);
    let writer_end = pipe.clone();
    let writer = std::thread::spawn(move || {
        let body = std::fs::read(fixture(AMI)).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(writer_end)
            .unwrap()
            .write_all(&body)
            .unwrap();
    });
    let mut cmd = bin();
    cmd.args(["scan", pipe.to_str().unwrap()]);
    let out = run_bounded(cmd);
    writer.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_alerts(&out).len(), 1);
}

#[test]
fn an_unreadable_subdirectory_is_reported_and_the_rest_is_scanned() {
    let dir = TempDir::new("unreadable");
    dir.put("locked/x.json.gz", RDS);
    dir.put("open/share.json.gz", AMI);
    let locked = dir.0.join("locked");
    assert!(
        Command::new("chmod")
            .arg("000")
            .arg(&locked)
            .status()
            .unwrap()
            .success()
    );
    // Permissions do not bind root: run as nobody there (the files are world-readable).
    let mut cmd = if unsafe_is_root() {
        let _ = Command::new("chmod").arg("755").arg(&dir.0).status();
        let _ = Command::new("chmod")
            .arg("755")
            .arg(dir.0.join("open"))
            .status();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_trailwatch"));
        c
    } else {
        bin()
    };
    cmd.args(["scan", dir.0.to_str().unwrap()]);
    let out = run_bounded(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let alerts = stdout_alerts(&out);
    assert_eq!(alerts.len(), 1, "{stderr}");
    assert_eq!(alerts[0]["details"]["resource_type"], "ami");
    assert!(stderr.contains("locked: "), "{stderr}");
    assert!(stderr.contains("1 errors"), "{stderr}");
}

/// Root or not, without a libc dependency: root may read a directory with mode 000.
fn unsafe_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next().map(|u| u == "0"))
        .unwrap_or(false)
}

#[test]
fn two_gzip_logs_concatenated_are_both_scanned() {
    let dir = TempDir::new("concat");
    let mut both = std::fs::read(fixture(AMI)).unwrap();
    both.extend(std::fs::read(fixture(RDS)).unwrap());
    let path = dir.0.join("both.json.gz");
    std::fs::write(&path, both).unwrap();
    let out = run(&["scan", path.to_str().unwrap()]);
    let kinds: Vec<String> = stdout_alerts(&out)
        .iter()
        .map(|a| a["details"]["resource_type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        vec!["ami", "rds-snapshot"],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn symlinked_directories_are_followed_once_and_loops_end() {
    let dir = TempDir::new("symlinks");
    let outside = TempDir::new("symlinks-outside");
    dir.put("real/share.json.gz", AMI);
    outside.put("rds.json.gz", RDS);
    std::os::unix::fs::symlink(dir.0.join("real"), dir.0.join("again")).unwrap();
    std::os::unix::fs::symlink(&dir.0, dir.0.join("real/loop")).unwrap();
    std::os::unix::fs::symlink(&outside.0, dir.0.join("elsewhere")).unwrap();
    let mut cmd = bin();
    cmd.args(["scan", dir.0.to_str().unwrap()]);
    let out = run_bounded(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let mut kinds: Vec<String> = stdout_alerts(&out)
        .iter()
        .map(|a| a["details"]["resource_type"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    // The AMI log is reachable twice (real/ and again/) and scanned once.
    assert_eq!(kinds, vec!["ami", "rds-snapshot"], "{stderr}");
    assert!(stderr.contains("already scanned"), "{stderr}");
}

#[test]
fn file_names_on_stderr_cannot_forge_lines_or_escapes() {
    let dir = TempDir::new("names");
    let name = "x.json\ntrailwatch: 0 files, 0 alerts\u{1b}[2K\u{2028}.json";
    std::fs::write(dir.0.join(name), b"not json").unwrap();
    let out = run(&["scan", dir.0.to_str().unwrap()]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(!stderr.contains('\u{2028}'), "{stderr:?}");
    assert!(
        stderr.lines().all(|l| l.starts_with("trailwatch: ")),
        "{stderr:?}"
    );
    assert!(
        !stderr.lines().any(|l| l.starts_with("trailwatch: 0 files")),
        "a forged summary line: {stderr:?}"
    );
}

#[test]
fn a_record_no_rule_could_judge_is_named_on_stderr_and_counted() {
    // Issue 8.6: a policy nested past serde's recursion limit hid the event without a trace.
    let dir = TempDir::new("skipped");
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let log = format!(
        r#"{{"Records":[{{"eventID":"hidden-share","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy",
          "recipientAccountId":"111122223333","requestParameters":{{"bucketName":"b","bucketPolicy":{deep}}}}}]}}"#
    );
    let path = dir.0.join("deep.json");
    std::fs::write(&path, log).unwrap();
    let out = run(&["scan", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("(record 0, event id hidden-share): record skipped:"),
        "{stderr}"
    );
    assert!(stderr.contains("1 skipped records"), "{stderr}");
}
