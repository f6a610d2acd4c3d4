//! SigmaHQ's CloudTrail rules against our loader and the Stratus samples. The rules are under
//! the Detection Rule License and are not in this repository: point `TRAILWATCH_SIGMA_PACK` at
//! a checkout's `rules/cloud/aws/cloudtrail` to run this (it passes trivially without it).
//!
//! It checks that every rule loads or is refused with a reason, prints "N of M load" (and the
//! correlations), that the engine's fast field access (typed record first) agrees with Sigma's
//! JSON evaluation on every Stratus record for every rule, and that a rule's gates (event,
//! caller type, text) never turn away a record the rule matches.

use std::path::Path;
use trailwatch::cli::tuning::read_sigma_dir;
use trailwatch::detector::sigma::{self, RecordEvent};
use trailwatch::detector::{Detector, DetectorConfig, ReaderConfig, Record, scan_log};

#[test]
fn sigmahq_cloudtrail_rules_load_and_agree_with_json_evaluation() {
    let Ok(dir) = std::env::var("TRAILWATCH_SIGMA_PACK") else {
        eprintln!("TRAILWATCH_SIGMA_PACK not set: skipped");
        return;
    };
    let sources = read_sigma_dir(Path::new(&dir)).unwrap();
    let loaded = sigma::load(&sources, 60, |_| false);
    println!(
        "{} of {} SigmaHQ CloudTrail rules load; {} correlations",
        loaded.rules.rules().len(),
        sources.len(),
        loaded.rules.correlations().len()
    );
    for rule in loaded.rules.rules() {
        if !rule.route.as_ref().is_some_and(|g| {
            g.iter()
                .all(|g| matches!(g, trailwatch::detector::sigma::Gate::Event(_)))
        }) {
            println!("{} {:?} reads {}", rule.rule_id, rule.title, rule.reads());
        }
    }
    for refusal in &loaded.refused {
        println!("refused: {refusal}");
        assert!(!refusal.reason.is_empty());
    }
    // The agreement below covers the rules refused as caller-type only too (they load when
    // the configuration allows them).
    let allowing = sigma::LoadOptions {
        dedup_period_minutes: 60,
        allow_caller_type_only: true,
    };
    let loaded = sigma::load_with(&sources, &allowing, |_| false);
    let samples =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/samples/stratus-detonation-logs");
    let Ok(entries) = std::fs::read_dir(&samples) else {
        return;
    };
    // The whole scan too: the skim, its reads for text gates and the landmarks, on the logs
    // as the reader frames them.
    let detector = Detector::new(&DetectorConfig {
        sigma_rules: loaded.rules.clone(),
        ..DetectorConfig::default()
    })
    .unwrap();
    let (mut checked, mut matches, mut scanned) = (0, 0, 0);
    for entry in entries {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let records = doc
            .as_array()
            .cloned()
            .or_else(|| doc["Records"].as_array().cloned())
            .unwrap_or_default();
        let log = serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap();
        let mut raised = std::collections::BTreeSet::new();
        scan_log(
            &log[..],
            "stratus",
            &detector,
            ReaderConfig::default(),
            |alert| {
                raised.insert((alert.log_object.record_index, alert.rule_id));
            },
        )
        .unwrap();
        for (index, value) in records.iter().enumerate() {
            for rule in loaded.rules.rules().iter().filter(|r| r.alerts_alone) {
                assert_eq!(
                    raised.contains(&(index as u64, rule.rule_id.clone())),
                    rule.matches(value),
                    "the scan and {} disagree on {}",
                    rule.rule_id,
                    value["eventID"]
                );
                scanned += 1;
            }
        }
        for value in records {
            let bytes = serde_json::to_vec(&value).unwrap();
            let record = Record::from_slice(&bytes).unwrap();
            let event = RecordEvent::new(&record);
            let identity_type = value["userIdentity"]["type"].as_str();
            for rule in loaded.rules.rules() {
                let matched = rule.matches(&value);
                assert_eq!(
                    matched,
                    rule.matches_record(&event),
                    "{} on {}",
                    rule.rule_id,
                    value["eventID"]
                );
                if matched {
                    matches += 1;
                    assert!(
                        rule.may_match(record.source(), record.name(), identity_type, &bytes),
                        "the gates of {} turned away a record it matches: {}",
                        rule.rule_id,
                        value["eventID"]
                    );
                }
                checked += 1;
            }
        }
    }
    println!(
        "{checked} rule/record pairs agree; {matches} matches passed their rule's gates; \
         {scanned} pairs agree with the scan"
    );
}
