//! Short, deterministic property runs over the same entry points as the fuzz targets (reader,
//! policy module, whole detector), so the invariants the fuzzers hold are also checked by
//! `make test`. The long, coverage-guided runs live in fuzz/ (see README, "Reliability").

use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use std::io::{self, Read, Write};
use trailwatch::detector::arn::is_account_id;
use trailwatch::detector::policy::PolicyAnalysis;
use trailwatch::detector::text::{clean, is_unsafe};
use trailwatch::detector::{Detector, DetectorConfig, LogReader, ReaderConfig, scan_log};

/// Same seed every run: a failure here reproduces on any machine.
fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    )
}

/// Reads in pieces of at most `chunk` bytes.
struct Pieces<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.data.len().min(buf.len()).min(self.chunk);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Records read from `input`, or the error's text.
fn frame(input: impl Read) -> Result<Vec<Vec<u8>>, String> {
    let mut reader = LogReader::open(input, ReaderConfig::default()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(raw) = reader.next_record().map_err(|e| e.to_string())? {
        out.push(raw.bytes.to_vec());
    }
    Ok(out)
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        // Strings with the characters that matter to a framer: quotes, brackets, escapes.
        "[a-z\"\\\\{}\\[\\],: \u{e9}\u{202e}\n]{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z\"{]{1,8}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn framing_does_not_depend_on_read_boundaries_or_compression() {
    let strategy = (
        prop::collection::vec(json_value(), 0..8),
        1usize..300,
        any::<bool>(),
    );
    runner(256)
        .run(&strategy, |(elements, chunk, compress)| {
            let log = serde_json::to_vec(&json!({ "Records": elements })).unwrap();
            let whole = frame(&log[..]).expect("valid JSON logs frame");
            // Every object element comes out byte-exact and parses; other elements are skipped.
            let expected: Vec<Vec<u8>> = elements
                .iter()
                .filter(|e| e.is_object())
                .map(|e| serde_json::to_vec(e).unwrap())
                .collect();
            prop_assert_eq!(&whole, &expected);
            let input = if compress { gzip(&log) } else { log.clone() };
            let pieces = frame(Pieces {
                data: &input,
                chunk,
            })
            .expect("same log in pieces");
            prop_assert_eq!(whole, pieces);
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_bytes_never_panic_and_the_counts_add_up() {
    let detector = Detector::new(&DetectorConfig::default()).unwrap();
    let strategy = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        // Bytes after a valid header reach the element framer.
        prop::collection::vec(any::<u8>(), 0..400).prop_map(|tail| {
            let mut v = br#"{"Records":[{"eventName":"PutBucketPolicy"},"#.to_vec();
            v.extend(tail);
            v
        }),
    ];
    runner(512)
        .run(&strategy, |bytes| {
            let mut alerts = 0u64;
            let result = scan_log(
                &bytes[..],
                "prop",
                &detector,
                ReaderConfig::default(),
                |_| alerts += 1,
            );
            let stats = match &result {
                Ok(s) => *s,
                Err(e) => e.stats,
            };
            prop_assert_eq!(stats.alerts + stats.pending, alerts);
            prop_assert!(stats.decompressed_bytes <= bytes.len() as u64);
            Ok(())
        })
        .unwrap();
}

fn principal() -> impl Strategy<Value = Value> {
    let account = "[0-9]{12}";
    prop_oneof![
        Just(json!("*")),
        account.prop_map(|a| json!(a)),
        account.prop_map(|a| json!({ "AWS": format!("arn:aws:iam::{a}:root") })),
        prop::collection::vec(account, 1..3).prop_map(|v| json!({ "AWS": v })),
        account.prop_map(|a| json!({ "AWS": format!("arn:aws-us-gov:iam::{a}:role/r") })),
        Just(json!({ "Service": "cloudtrail.amazonaws.com" })),
        Just(json!({ "AWS": "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E1" })),
        Just(json!({ "CanonicalUser": "abc" })),
        "[ -~]{0,20}".prop_map(|s| json!({ "AWS": s })),
    ]
}

fn statement() -> impl Strategy<Value = Value> {
    (
        principal(),
        prop_oneof![Just("Allow"), Just("Deny"), Just("allow")],
        any::<bool>(),
        prop::option::of("[0-9]{12}"),
    )
        .prop_map(|(p, effect, not_principal, condition_account)| {
            let key = if not_principal {
                "NotPrincipal"
            } else {
                "Principal"
            };
            let mut s = json!({ "Sid": "s", "Effect": effect, key: p, "Action": "s3:GetObject" });
            if let Some(a) = condition_account {
                s["Condition"] = json!({ "StringEquals": { "aws:PrincipalAccount": a } });
            }
            s
        })
}

#[test]
fn policy_verdicts_keep_their_invariants() {
    let owner = "111122223333";
    let strategy = (prop::collection::vec(statement(), 1..5), any::<bool>());
    runner(512)
        .run(&strategy, |(statements, single)| {
            let doc = if single && statements.len() == 1 {
                json!({ "Statement": statements[0] })
            } else {
                json!({ "Version": "2012-10-17", "Statement": statements })
            };
            let analysis = PolicyAnalysis::from_value(&doc).unwrap();
            // The same document as a JSON string (as CloudTrail sometimes records it) reads
            // identically.
            let as_string = PolicyAnalysis::from_value(&Value::String(doc.to_string())).unwrap();
            prop_assert_eq!(&analysis, &as_string);
            for grant in &analysis.grants {
                prop_assert!(grant.accounts.iter().all(|a| is_account_id(a)));
            }
            let external = analysis.external_access(|a| a == owner, |_| true);
            prop_assert!(!external.accounts.contains(owner));
            prop_assert_eq!(external.any(), !external.statement_ids.is_empty());
            prop_assert!(
                analysis
                    .external_access(|_| true, |_| true)
                    .accounts
                    .is_empty()
            );
            // Deny statements never grant anything.
            let denies_only = statements.iter().all(|s| s["Effect"] == "Deny");
            if denies_only {
                prop_assert!(!external.any());
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn cleaned_text_is_bounded_and_has_no_control_or_bidi_characters() {
    runner(512)
        .run(&(any::<String>(), 1usize..200), |(s, max)| {
            let out = clean(&s, max);
            prop_assert!(out.chars().count() <= max + 1);
            prop_assert!(
                !out.chars().any(is_unsafe),
                "unsafe character left in {:?}",
                out
            );
            Ok(())
        })
        .unwrap();
}

/// Record text built from pieces chosen to trip a structural scan: the two event keys spelled
/// plainly, escaped, duplicated, nested or with other value types, in any order and spacing.
fn skim_record() -> impl Strategy<Value = Vec<u8>> {
    let key = prop_oneof![
        Just("\"eventSource\"".to_string()),
        Just("\"eventName\"".to_string()),
        Just("\"event\\u004eame\"".to_string()),
        Just("\"eventSourc\\u0065\"".to_string()),
        Just("\"requestParameters\"".to_string()),
        Just("\"userIdentity\"".to_string()),
        "\"[a-zA-Z]{1,6}\"".prop_map(|s| s),
    ];
    let value = prop_oneof![
        Just("\"s3.amazonaws.com\"".to_string()),
        Just("\"PutBucketPolicy\"".to_string()),
        Just("\"GetObject\"".to_string()),
        Just("\"Put\\u0042ucketPolicy\"".to_string()),
        Just("\"\u{e9}\"".to_string()),
        Just("null".to_string()),
        Just("12".to_string()),
        Just("true".to_string()),
        Just("{\"eventName\":\"PutBucketPolicy\",\"x\":[\"]}\\\"\"]}".to_string()),
        Just("[{\"eventSource\":\"s3.amazonaws.com\"}]".to_string()),
        Just("{\"type\":\"Root\",\"arn\":\"a\"}".to_string()),
        Just("{\"type\":\"Root\",\"type\":\"IAMUser\"}".to_string()),
        Just("{\"typ\\u0065\":\"Root\"}".to_string()),
        Just("{\"sessionContext\":{\"type\":\"x\"},\"type\":7}".to_string()),
        json_value().prop_map(|v| v.to_string()),
    ];
    let ws = prop_oneof![Just(""), Just(" "), Just("\n\t"), Just("\r\n  ")];
    let plain = prop_oneof![
        4 => Just("\"s3.amazonaws.com\"".to_string()),
        4 => Just("\"PutBucketPolicy\"".to_string()),
        1 => value.clone(),
    ];
    let field = (key, value, ws.clone(), ws.clone());
    // Usually both event keys once with plain values, plus other fields, in shuffled order.
    (
        plain.clone(),
        plain,
        prop::collection::vec(field, 0..6),
        any::<bool>(),
        ws,
    )
        .prop_flat_map(|(source, name, extra, with_event_keys, space)| {
            let mut fields: Vec<String> = extra
                .into_iter()
                .map(|(k, v, a, b)| format!("{a}{k}{b}:{a}{v}{b}"))
                .collect();
            if with_event_keys {
                fields.push(format!("{space}\"eventSource\":{space}{source}"));
                fields.push(format!("\"eventName\"{space}:{name}{space}"));
            }
            Just(fields).prop_shuffle()
        })
        .prop_map(|fields| format!("{{{}}}", fields.join(",")).into_bytes())
}

#[test]
fn the_skim_never_decides_differently_from_the_full_parse() {
    use trailwatch::detector::Record;
    use trailwatch::detector::skim::{Skim, skim};
    let strategy = prop_oneof![
        skim_record(),
        // Arbitrary damage to a plain record.
        (
            skim_record(),
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4)
        )
            .prop_map(|(mut bytes, edits)| {
                for (at, byte) in edits {
                    if !bytes.is_empty() {
                        let i = at.index(bytes.len());
                        bytes[i] = byte;
                    }
                }
                bytes
            }),
    ];
    let known = std::cell::Cell::new(0u32);
    runner(2048)
        .run(&strategy, |bytes| {
            // The skim the scan uses: on the record as the reader frames it, with the
            // landmarks framing found. It must agree with the full parse the same way.
            let mut log = b"{\"Records\":[".to_vec();
            log.extend_from_slice(&bytes);
            log.extend_from_slice(b"]}");
            if let Ok(mut reader) = LogReader::open(&log[..], ReaderConfig::default())
                && let Ok(Some(raw)) = reader.next_record()
            {
                let framed = raw.skim();
                if serde_json::from_slice::<Value>(raw.bytes).is_ok() {
                    // On valid JSON the landmarks never change the answer.
                    prop_assert_eq!(framed, skim(raw.bytes));
                }
                if let Skim::Known {
                    source,
                    name,
                    identity_type,
                } = framed
                    && let Ok(record) = Record::from_slice(raw.bytes)
                {
                    let parsed_type = record
                        .user_identity
                        .as_ref()
                        .and_then(|u| u.identity_type.as_deref());
                    prop_assert_eq!(
                        (record.source(), record.name(), parsed_type),
                        (source, name, identity_type)
                    );
                }
            }
            if let Skim::Known {
                source,
                name,
                identity_type,
            } = skim(&bytes)
            {
                known.set(known.get() + 1);
                // Sure answers must equal the full parse, or the full parse refuses the record.
                if let Ok(record) = Record::from_slice(&bytes) {
                    let parsed_type = record
                        .user_identity
                        .as_ref()
                        .and_then(|u| u.identity_type.as_deref());
                    prop_assert_eq!(
                        (record.source(), record.name(), parsed_type),
                        (source, name, identity_type)
                    );
                }
            }
            Ok(())
        })
        .unwrap();
    // The generator reaches the interesting side: plenty of sure answers were checked.
    assert!(known.get() > 100, "only {} sure skims", known.get());
}
