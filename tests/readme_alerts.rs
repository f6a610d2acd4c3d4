//! The README shows one alert as its readers get it: the e-mail must be exactly what
//! `trailwatch scan --format email` prints for the recording it names, and the chat message and
//! Security Hub finding the pinned snapshots the format tests check.

use std::path::Path;
use std::process::Command;

const README: &str = include_str!("../README.md");

#[test]
fn the_readme_email_is_what_the_cli_prints() {
    let output = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args([
            "scan",
            "--format",
            "email",
            "tests/fixtures/stratus/aws.exfiltration.ec2-share-ami.json.gz",
        ])
        .output()
        .expect("run trailwatch");
    let email = String::from_utf8(output.stdout).unwrap();
    assert!(email.starts_with("Subject: [HIGH] "), "{email}");
    assert!(
        README.contains(&format!("```text\n{}\n```", email.trim_end())),
        "README.md's e-mail is stale; regenerate it with the command it shows:\n{email}"
    );
}

#[test]
fn the_readme_chat_message_and_finding_are_the_snapshots() {
    for snapshot in [
        include_str!("fixtures/formats/ami-share.chat.json"),
        include_str!("fixtures/formats/ami-share.asff.json"),
    ] {
        assert!(
            README.contains(&format!("```json\n{}\n```", snapshot.trim_end())),
            "README.md quotes a stale snapshot"
        );
    }
}
