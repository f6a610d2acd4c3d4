//! Tests of Sigma loading, routing, text gates and alerts.

use super::text::regex_literal;
use super::*;
use serde_json::json;

/// Our own example rule (not from SigmaHQ): a trail stopped or deleted.
pub(crate) const STOP_LOGGING: &str = r#"
title: CloudTrail logging stopped (trailwatch example)
id: 6f1e2d3c-0000-4a5b-8c9d-000000000001
status: experimental
description: A trail was stopped or deleted.
references:
  - https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_StopLogging.html
author: trailwatch
date: 2026-11-23
tags:
  - attack.defense-evasion
  - attack.t1562.008
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventSource: cloudtrail.amazonaws.com
    eventName:
      - StopLogging
      - DeleteTrail
    errorCode: null
  condition: selection
falsepositives:
  - Planned trail migrations
level: high
"#;

fn one(text: &str) -> Result<SigmaRule, String> {
    one_with(text, &LoadOptions::default())
}

fn one_with(text: &str, options: &LoadOptions) -> Result<SigmaRule, String> {
    let loaded = load_with(&[("test.yml".into(), text.into())], options, |_| false);
    match (loaded.rules.rules().first(), loaded.refused.first()) {
        (Some(rule), None) => Ok(rule.clone()),
        (_, Some(refusal)) => Err(refusal.reason.clone()),
        _ => Err("nothing".into()),
    }
}

#[test]
fn a_rule_loads_with_its_metadata_and_index() {
    let rule = one(STOP_LOGGING).unwrap();
    assert_eq!(rule.rule_id, "sigma-6f1e2d3c-0000-4a5b-8c9d-000000000001");
    assert_eq!(rule.severity, Severity::High);
    assert_eq!(rule.mitre_attack[0].technique_id, "T1562.008");
    assert_eq!(rule.mitre_attack[0].tactic_id, "TA0005");
    assert_eq!(
        rule.route,
        Some(vec![
            Gate::Event(SigmaSelector {
                source: Some("cloudtrail.amazonaws.com".into()),
                name: Some(NameSelector::Exact("StopLogging".into()))
            }),
            Gate::Event(SigmaSelector {
                source: Some("cloudtrail.amazonaws.com".into()),
                name: Some(NameSelector::Exact("DeleteTrail".into()))
            }),
        ])
    );
}

#[test]
fn null_matches_an_absent_field_and_true_matches_a_json_boolean() {
    let rule = one(STOP_LOGGING).unwrap();
    let ok = json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging"});
    let failed = json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
            "errorCode": "AccessDenied"});
    assert!(rule.matches(&ok));
    assert!(!rule.matches(&failed));
    let public = one(&STOP_LOGGING.replace(
        "    errorCode: null",
        "    responseElements.publiclyAccessible: 'true'",
    ))
    .unwrap();
    let with = |v: Value| {
        json!({"eventSource": "cloudtrail.amazonaws.com",
            "eventName": "DeleteTrail", "responseElements": {"publiclyAccessible": v}})
    };
    assert!(public.matches(&with(json!(true))));
    assert!(public.matches(&with(json!("true"))));
    assert!(!public.matches(&with(json!(false))));
    assert!(!public.matches(&with(Value::Null)));
}

#[test]
fn unsupported_rules_are_refused_with_a_reason() {
    let cases = [
        (
            STOP_LOGGING.replace("service: cloudtrail", "service: guardduty"),
            "only product aws",
        ),
        (
            STOP_LOGGING.replace("id: 6f1e2d3c-0000-4a5b-8c9d-000000000001\n", ""),
            "no `id`",
        ),
        (
            STOP_LOGGING.replace(
                "  condition: selection",
                "  timeframe: 5m\n  condition: selection",
            ),
            "timeframe",
        ),
        (
            STOP_LOGGING.replace(
                "  condition: selection",
                "  condition: selection and missing",
            ),
            "does not compile",
        ),
        ("title: [unclosed\n".to_owned(), "not a Sigma rule"),
        // SigmaHQ's unsupported/cloud/aws_macic_evasion.yml writes this.
        (
            STOP_LOGGING.replace(
                "  condition: selection",
                "  condition: selection | count() by sourceIPAddress > 5",
            ),
            "write it as a correlation rule",
        ),
    ];
    for (text, reason) in cases {
        let err = one(&text).unwrap_err();
        assert!(err.contains(reason), "{reason}: {err}");
    }
    let twice = load(
        &[
            ("a.yml".into(), STOP_LOGGING.into()),
            ("b.yml".into(), STOP_LOGGING.into()),
        ],
        60,
        |_| false,
    );
    assert_eq!(twice.rules.rules().len(), 1);
    assert!(
        twice.refused[0].reason.contains("already loaded"),
        "{:?}",
        twice.refused
    );
}

#[test]
fn conditions_pin_the_index_only_when_every_match_is_inside_it() {
    let selectors = |detection: &str| {
        let text = STOP_LOGGING.replace(
                "  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n  condition: selection\n",
                detection,
            );
        one(&text).unwrap().route
    };
    // A negated selection constrains nothing.
    assert_eq!(
        selectors("  sel:\n    eventName: StopLogging\n  condition: not sel\n"),
        None
    );
    // A name-only pin keys on the name from any source; startswith and trailing * are prefixes.
    assert_eq!(
        selectors("  sel:\n    eventName|startswith: Put\n  condition: sel\n"),
        Some(vec![Gate::Event(SigmaSelector {
            source: None,
            name: Some(NameSelector::Prefix("Put".into()))
        })])
    );
    assert_eq!(
        selectors(
            "  sel:\n    eventName: 'Delete*'\n    eventSource: s3.amazonaws.com\n  condition: sel\n"
        ),
        Some(vec![Gate::Event(SigmaSelector {
            source: Some("s3.amazonaws.com".into()),
            name: Some(NameSelector::Prefix("Delete".into()))
        })])
    );
    // contains does not pin; an OR with an unpinned side does not either.
    assert_eq!(
        selectors("  sel:\n    eventName|contains: Log\n  condition: sel\n"),
        None
    );
    assert_eq!(
        selectors(
            "  a:\n    eventName: StopLogging\n  b:\n    userAgent: x\n  condition: a or b\n"
        ),
        None
    );
    // and-ing with a filter keeps the pinned side.
    assert!(
        selectors(
            "  a:\n    eventName: StopLogging\n  f:\n    userAgent: x\n  condition: a and not f\n"
        )
        .is_some()
    );
    assert_eq!(
        selectors("  s1:\n    eventName: A\n  s2:\n    eventName: B\n  condition: 1 of s*\n")
            .map(|s| s.len()),
        Some(2)
    );
}

#[test]
fn caller_types_and_texts_gate_rules_that_pin_no_event() {
    let route = |detection: &str| {
        let text = STOP_LOGGING.replace(
                "  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n  condition: selection\n",
                detection,
            );
        one_with(&text, &ALLOW_CALLER_TYPE_ONLY).unwrap().route
    };
    // SigmaHQ 905d389b (AWS STS AssumeRole Misuse) and 8ad1600d (root account usage).
    assert_eq!(
        route(
            "  sel:\n    userIdentity.type: AssumedRole\n    userIdentity.sessionContext.sessionIssuer.type: Role\n  condition: sel\n"
        ),
        Some(vec![Gate::IdentityType("AssumedRole".into())])
    );
    assert_eq!(
        route(
            "  u:\n    userIdentity.type: Root\n  t:\n    eventType: AwsServiceEvent\n  condition: u and not t\n"
        ),
        Some(vec![Gate::IdentityType("Root".into())])
    );
    // An event pin is cheaper than a caller type, a caller type than a text.
    assert!(matches!(
            route("  u:\n    userIdentity.type: Root\n  e:\n    eventName: ConsoleLogin\n  condition: u and e\n").as_deref(),
            Some([Gate::Event(_)])
        ));
    // SigmaHQ f305fd62 (bucket enumeration): ListBuckets, not by a role session.
    let buckets = one(&STOP_LOGGING.replace(
            "  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n  condition: selection\n",
            "  selection:\n    eventSource: s3.amazonaws.com\n    eventName: ListBuckets\n  filter:\n    userIdentity.type: AssumedRole\n  condition: selection and not filter\n",
        ))
        .unwrap();
    assert_eq!(
        buckets.excludes_caller_types,
        vec!["AssumedRole".to_owned()]
    );
    let list = br#"{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets"}"#;
    assert!(!buckets.may_match("s3.amazonaws.com", "ListBuckets", Some("AssumedRole"), list));
    assert!(buckets.may_match("s3.amazonaws.com", "ListBuckets", Some("IAMUser"), list));
    assert!(buckets.may_match("s3.amazonaws.com", "ListBuckets", None, list));
    // A filter with a second field excludes nothing (it rules out only records with both).
    let narrower = one(&STOP_LOGGING.replace(
            "  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n  condition: selection\n",
            "  selection:\n    eventName: ListBuckets\n  filter:\n    userIdentity.type: AssumedRole\n    userAgent: x\n  condition: selection and not filter\n",
        ))
        .unwrap();
    assert!(narrower.excludes_caller_types.is_empty());
    // SigmaHQ a840e606 (TruffleHog): an exact user agent is a text gate, lower-cased.
    assert_eq!(
        route("  sel:\n    userAgent: TruffleHog\n  condition: sel\n"),
        Some(vec![Gate::Text(TextGate::in_field(
            "userAgent",
            "trufflehog"
        ))])
    );
    assert_eq!(
        route(
            "  sel:\n    userAgent|contains:\n      - 'kali'\n      - '*parrot*'\n  condition: sel\n"
        ),
        Some(vec![
            Gate::Text(TextGate::in_field("userAgent", "kali")),
            Gate::Text(TextGate::in_field("userAgent", "parrot"))
        ])
    );
    // SigmaHQ 352a918a (IMDS credentials used outside AWS): a regular expression's literal run.
    assert_eq!(
        route("  sel:\n    userIdentity.arn|re: '.+:assumed-role/aws:.+'\n  condition: sel\n"),
        Some(vec![Gate::Text(TextGate::in_field(
            "userIdentity.arn",
            ":assumed-role/aws:"
        ))])
    );
    assert_eq!(
        regex_literal(r"^arn:aws:iam::\d{12}:role/Admin"),
        Some("arn:aws:iam::".into())
    );
    assert_eq!(regex_literal(r"abcdex?yz"), Some("abcde".into()));
    assert_eq!(regex_literal(r"abcd\.ef+"), Some("abcd.ef".into()));
    // Regular expressions with alternation or groups, numbers, short texts and wildcard-only
    // values give no gate.
    for none in [
        "  sel:\n    userAgent|re: 'Truf(fle)?.*'\n  condition: sel\n",
        "  sel:\n    userAgent|re: 'Truffle|Hog'\n  condition: sel\n",
        "  sel:\n    eventVersion: '1.08'\n  condition: sel\n",
        "  sel:\n    userAgent: 'a*b'\n  condition: sel\n",
        "  sel:\n    userIdentity.type|contains: Ro\n    userAgent: 'x'\n  condition: sel\n",
    ] {
        assert_eq!(route(none), None, "{none}");
    }
}

#[test]
fn text_gates_never_refuse_a_record_the_rule_could_match() {
    let rule = one(&STOP_LOGGING.replace(
            "  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n",
            "  selection:\n    userAgent: TruffleHog\n",
        ))
        .unwrap();
    let cases = [
        (r#"{"userAgent":"TruffleHog"}"#, true),
        (r#"{"userAgent":"trufflehog"}"#, true),
        // The escape decodes to "TruffleHog": the gate passes (and the rule decides).
        (r#"{"userAgent":"\u0054ruffleHog"}"#, true),
        (r#"{"userAgent":"aws-cli/2"}"#, false),
    ];
    // Short escapes are decoded: an escaped quote or slash does not hide the text.
    let cases = [
        cases[0],
        cases[1],
        cases[2],
        cases[3],
        (r#"{"userAgent":"Truffle\/Hog","p":"{\"a\":1}"}"#, false),
        (r#"{"userAgent":"x","p":"{\"ua\":\"trufflehog\"}"}"#, true),
    ];
    assert!(may_contain(br#"{"a":"x\/trufflehog"}"#, b"/trufflehog"));
    for (text, gate) in cases {
        assert_eq!(may_contain(text.as_bytes(), b"trufflehog"), gate, "{text}");
        let value: Value = serde_json::from_str(text).unwrap();
        if rule.matches(&value) {
            assert!(gate, "the gate refused a match: {text}");
        }
    }
    // Non-ASCII text may case-fold into the searched text (K, the Kelvin sign, folds to k).
    assert!(may_contain("{\"a\":\"\u{212A}ali\"}".as_bytes(), b"kali"));
    assert!(!may_contain(br#"{"a":"kal"}"#, b"kali"));
    assert!(may_contain(br#"{"a":"xxKALI"}"#, b"kali"));
}

/// SigmaHQ 352a918a (IMDS credentials used outside AWS) and a840e606 (TruffleHog): the two
/// CloudTrail rules whose gate is a text in a field.
fn text_gated_rules() -> (SigmaRule, SigmaRule) {
    let imds = one(&with_detection(
        "  sel:\n    userIdentity.arn|re: '.+:assumed-role/aws:.+'\n  condition: sel\n",
    ))
    .unwrap();
    let truffle = one(&with_detection(
        "  sel:\n    userAgent: TruffleHog\n  condition: sel\n",
    ))
    .unwrap();
    (imds, truffle)
}

/// A gate on a field's text reads only that field's values from the bytes, yet never refuses
/// a record the rule matches: values under the key at any depth, repeated keys, a literal
/// dotted key, odd whitespace, values that are not strings, escapes and non-ASCII text.
#[test]
fn field_text_gates_read_the_field_and_never_refuse_a_match() {
    let (imds, truffle) = text_gated_rules();
    let role = r#""arn":"arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1""#;
    let cases: Vec<(String, bool, bool)> = vec![
        // (record, IMDS gate passes, TruffleHog gate passes)
        (format!(r#"{{"userIdentity":{{"type":"AssumedRole",{role}}},"userAgent":"aws-cli"}}"#), true, false),
        // The text elsewhere than the field is not enough.
        (r#"{"userIdentity":{"arn":"arn:aws:iam::1:user/x"},"requestParameters":{"note":"x:assumed-role/aws:y"},"userAgent":"aws-cli","p":"TruffleHog"}"#.into(), false, false),
        (r#"{"userAgent" :  "TRUFFLEHOG"}"#.into(), false, true),
        (r#"{"userAgent":"aws-cli","userAgent":"TruffleHog"}"#.into(), false, true),
        (r#"{"userIdentity.arn":"arn:aws:sts::1:assumed-role/aws:x/y"}"#.into(), true, false),
        (r#"{"userIdentity":[{"arn":"x"},{"arn":"arn:aws:sts::1:assumed-role/aws:x/y"}]}"#.into(), true, false),
        // Not strings: the gate passes and the rule decides.
        (r#"{"userAgent":["TruffleHog"],"userIdentity":{"arn":7}}"#.into(), true, true),
        // A value that merely reads like the key, and a key whose text is in the next value.
        (r#"{"a":"userAgent","b":"TruffleHog"}"#.into(), false, false),
        // An escape anywhere: the whole record is searched (it may hide a key); a short one
        // is decoded, and a \u escape could spell anything, so every gate passes.
        (r#"{"user\u0041gent":"TruffleHog"}"#.into(), true, true),
        (r#"{"userAgent":"Truffle\u0048og"}"#.into(), true, true),
        (r#"{"userAgent":"Truffle\/Hog","p":"x\"trufflehog"}"#.into(), false, true),
        // Non-ASCII may fold into the text.
        ("{\"userAgent\":\"Truffle\u{212A}Hog\"}".into(), false, true),
    ];
    for (record, imds_gate, truffle_gate) in &cases {
        let bytes = record.as_bytes();
        let value: Value = serde_json::from_str(record).unwrap();
        for (rule, expected) in [(&imds, imds_gate), (&truffle, truffle_gate)] {
            let Some(Gate::Text(gate)) = rule.route.as_ref().and_then(|r| r.first()) else {
                panic!("{} has no text gate", rule.rule_id);
            };
            assert_eq!(gate.may_pass(bytes), *expected, "{} on {record}", gate);
            // Read from the landmarks framing notes, the answer is the same or narrower: an
            // escape outside the field leaves it readable there.
            let framed = framed_gate_passes(gate, record);
            assert!(!framed || *expected, "{gate} on the framed {record}");
            if rule.matches(&value) {
                assert!(gate.may_pass(bytes), "{gate} refused a match: {record}");
                assert!(framed, "{gate} refused a framed match: {record}");
            }
        }
    }
    assert!(!framed_gate_passes(
        &TextGate::in_field("userIdentity.arn", ":assumed-role/aws:"),
        r#"{"userAgent":"Truffle\u0048og"}"#
    ));
    assert!(framed_gate_passes(
        &TextGate::in_field("userAgent", "trufflehog"),
        r#"{"userAgent":"Truffle\u0048og"}"#
    ));
    // What `config check` and `rules` say each costs.
    assert_eq!(
        truffle.reads(),
        "records with \"trufflehog\" in userAgent (a field the skim reads from every record)"
    );
    let nested = one(&with_detection(
        "  sel:\n    requestParameters.userAgent|contains: TruffleHog\n  condition: sel\n",
    ))
    .unwrap();
    assert!(nested.reads().ends_with("(a byte search on every record)"));
    // Both rules match their own positive records.
    assert!(imds.matches(&serde_json::from_str(&cases[0].0).unwrap()));
    assert!(truffle.matches(&serde_json::from_str(&cases[2].0).unwrap()));
    // A path the gate cannot read from bytes (an index) searches the whole record.
    let indexed = TextGate::in_field("resources[0].ARN", "secret-bucket");
    assert!(indexed.may_pass(br#"{"x":"SECRET-BUCKET"}"#));
}

/// Whether a text gate passes a record read by the log reader: from the landmarks it noted,
/// and (when the skim is sure of the record) from the fields the skim read; both must agree.
fn framed_gate_passes(gate: &TextGate, record: &str) -> bool {
    use crate::detector::reader::{LogReader, ReaderConfig};
    use crate::detector::skim::{FieldRead, Skim, Wanted};
    let log = format!(r#"{{"Records":[{record}]}}"#);
    let mut reader = LogReader::open(log.as_bytes(), ReaderConfig::default()).unwrap();
    let raw = reader.next_record().unwrap().expect("one record");
    let framed =
        RecordText::framed(raw.bytes, Some(raw.landmarks)).may_contain(&TextFinder::any_of([gate]));
    let mut wanted = Wanted::default();
    let finder = TextFinder::reading([gate], &mut wanted);
    let mut reads = vec![FieldRead::Absent; wanted.len()];
    if let Skim::Known { .. } = raw.skim_reading(&wanted, &mut reads) {
        let skimmed = RecordText::framed(raw.bytes, Some(raw.landmarks))
            .skimmed(&wanted, &reads)
            .may_contain(&finder);
        // As narrow or narrower: an escaped value is decoded alone, not searched for
        // in the whole record.
        assert!(framed || !skimmed, "{gate} read by the skim on {record}");
        if let Ok(value) = serde_json::from_str::<Value>(record)
            && gate_rule_matches(gate, &value)
        {
            assert!(skimmed, "{gate} read by the skim refused a match: {record}");
        }
    }
    framed
}

/// Whether a rule whose only selection is the gate's field containing its text matches.
fn gate_rule_matches(gate: &TextGate, record: &Value) -> bool {
    thread_local! {
        static RULES: std::cell::RefCell<Vec<(TextGate, SigmaRule)>> = const {
            std::cell::RefCell::new(Vec::new())
        };
    }
    RULES.with_borrow_mut(|rules| {
        if !rules.iter().any(|(g, _)| g == gate) {
            let field = gate.field.as_deref().expect("a field gate");
            let rule = one_with(
                &with_detection(&format!(
                    "  sel:\n    {field}|contains: '{}'\n  condition: sel\n",
                    gate.text
                )),
                &ALLOW_CALLER_TYPE_ONLY,
            )
            .unwrap();
            rules.push((gate.clone(), rule));
        }
        let (_, rule) = rules.iter().find(|(g, _)| g == gate).expect("just added");
        rule.matches(record)
    })
}

/// Gates read from the landmarks never refuse a record their rule matches, on mutated
/// records: keys and values moved, repeated, escaped, nested or of other types.
#[test]
fn framed_field_gates_never_refuse_a_match_on_mutated_records() {
    let (imds, truffle) = text_gated_rules();
    let base = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::1:role/x"}}},"eventSource":"s3.amazonaws.com","eventName":"GetObject","userAgent":"TruffleHog v3","requestParameters":{"userAgent":"TruffleHog","arn":"x:assumed-role/aws:y"}}"#;
    let pieces: &[&str] = &[
        "\"",
        "\\",
        "\\u0041",
        ":",
        ",",
        "{",
        "}",
        "[",
        "]",
        " ",
        "userAgent",
        "arn",
        "userIdentity",
        "\"userAgent\":\"TruffleHog\",",
        "\"arn\":1,",
        "\"userIdentity.arn\":\"a:assumed-role/aws:b\",",
    ];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut matched, mut refused) = (0, 0);
    for _ in 0..4_000 {
        let mut record = base.to_owned();
        for _ in 0..(next() % 3) {
            let mut at = 1 + (next() as usize) % (record.len() - 2);
            while !record.is_char_boundary(at) {
                at -= 1;
            }
            let piece = pieces[(next() as usize) % pieces.len()];
            if next() % 2 == 0 {
                record.insert_str(at, piece);
            } else {
                let end = (at + piece.len()).min(record.len() - 1);
                if record.is_char_boundary(end) {
                    record.replace_range(at..end, piece);
                }
            }
        }
        let Ok(value) = serde_json::from_str::<Value>(&record) else {
            continue;
        };
        // Gates on the fields the skim reads for itself (SigmaHQ 905d389b's caller type is
        // one): `framed_gate_passes` checks each against its rule's own evaluation.
        for gate in [
            TextGate::in_field("userIdentity.type", "assumedrole"),
            TextGate::in_field("eventName", "getobject"),
            TextGate::in_field("eventSource", "s3.amazonaws"),
        ] {
            framed_gate_passes(&gate, &record);
        }
        for rule in [&imds, &truffle] {
            let Some(Gate::Text(gate)) = rule.route.as_ref().and_then(|r| r.first()) else {
                panic!("{} has no text gate", rule.rule_id);
            };
            let passes = framed_gate_passes(gate, &record);
            if rule.matches(&value) {
                matched += 1;
                assert!(passes, "{gate} refused a framed match: {record}");
            } else if !passes {
                refused += 1;
            }
        }
    }
    // The mutations reach both outcomes, so the property is not vacuous.
    assert!(
        matched > 500 && refused > 100,
        "{matched} matched, {refused} refused"
    );
}

const ALLOW_CALLER_TYPE_ONLY: LoadOptions = LoadOptions {
    dedup_period_minutes: 60,
    allow_caller_type_only: true,
};

fn with_detection(detection: &str) -> String {
    STOP_LOGGING.replace(
        "  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n  condition: selection\n",
        detection,
    )
}

#[test]
fn rules_constraining_only_the_callers_type_are_refused_unless_allowed() {
    // SigmaHQ 905d389b (AWS STS AssumeRole Misuse): every call by a role session.
    let assume_role_misuse = with_detection(
        "  selection:\n    userIdentity.type: AssumedRole\n    userIdentity.sessionContext.sessionIssuer.type: Role\n  condition: selection\n",
    );
    assert_eq!(one(&assume_role_misuse).unwrap_err(), CALLER_TYPE_ONLY);
    let allowed = one_with(&assume_role_misuse, &ALLOW_CALLER_TYPE_ONLY).unwrap();
    assert_eq!(
        allowed.route,
        Some(vec![Gate::IdentityType("AssumedRole".into())])
    );
    // Also refused: one caller type, a list of them, a filter of caller types, or a
    // modifier on a caller-type field; nothing else is said about the call.
    for detection in [
        "  sel:\n    userIdentity.type: Root\n  condition: sel\n",
        "  sel:\n    userIdentity.type:\n      - Root\n      - IAMUser\n  condition: sel\n",
        "  sel:\n    userIdentity.type: IAMUser\n  f:\n    userIdentity.sessionContext.sessionIssuer.type: Role\n  condition: sel and not f\n",
        "  sel:\n    - userIdentity.type|startswith: Assumed\n    - userIdentity.type: Root\n  condition: sel\n",
    ] {
        assert_eq!(
            one(&with_detection(detection)).unwrap_err(),
            CALLER_TYPE_ONLY,
            "{detection}"
        );
        assert!(one_with(&with_detection(detection), &ALLOW_CALLER_TYPE_ONLY).is_ok());
    }
    // Anything about the event, its error, the caller's name or the record's text makes it
    // an alert: SigmaHQ 8ad1600d (root usage, not by AWS services), a keyword, an error.
    for detection in [
        "  u:\n    userIdentity.type: Root\n  t:\n    eventType: AwsServiceEvent\n  condition: u and not t\n",
        "  u:\n    userIdentity.type: Root\n  k:\n    - ConsoleLogin\n  condition: u and k\n",
        "  u:\n    userIdentity.type: AssumedRole\n    errorCode: AccessDenied\n  condition: u\n",
        "  u:\n    userIdentity.type: AssumedRole\n    userIdentity.arn|contains: admin\n  condition: u\n",
    ] {
        assert!(one(&with_detection(detection)).is_ok(), "{detection}");
    }
}

#[test]
fn one_search_for_several_gate_texts_finds_any_ignoring_case_and_escapes() {
    let any = TextFinder::any_of(&[
        TextGate::anywhere("trufflehog"),
        TextGate::anywhere(":assumed-role/aws:"),
    ]);
    let found = |bytes: &[u8]| RecordText::new(bytes).may_contain(&any);
    assert!(found(br#"{"userAgent":"TruffleHog"}"#));
    assert!(found(
        br#"{"arn":"arn:aws:sts::1:ASSUMED-ROLE/aws:ec2-instance/i-1"}"#
    ));
    // A short escape is decoded before the search; a \u escape could spell anything.
    assert!(found(br#"{"userAgent":"x \"Truffle\/Hog\" trufflehog"}"#));
    assert!(found(br#"{"userAgent":"truffle\u0068og"}"#));
    assert!(!found(
        br#"{"userAgent":"aws-cli/2.15","arn":"arn:aws:sts::1:assumed-role/admin/x"}"#
    ));
    assert!(!found(br#"{"userAgent":"truffle\"hog"}"#));
    // At the very start and end of the bytes, and cut short by the end.
    assert!(found(b"TRUFFLEHOG"));
    assert!(found(b"x:assumed-role/AWS:"));
    assert!(!found(b"rufflehog"));
    assert!(!found(b"trufflehO"));
}

/// Every path to every value of `value` (objects' own paths too), dotted as Sigma writes them.
fn all_paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            out.push(path.clone());
            all_paths(child, &path, out);
        }
    }
}

/// The lazy field access of [`RecordEvent`] (typed record first, then only the top-level
/// member a path starts with) against rsigma's whole-record JSON event, on every path of the
/// Stratus recordings (`../shared/samples/stratus-detonation-logs`) and on odd shapes.
#[test]
fn lazy_field_access_agrees_with_the_whole_json_event() {
    use rsigma_eval::event::Event;
    let odd = [
        // A literal dotted key wins over the nested path, as in a JSON event. (The typed
        // fields, `userIdentity.type` and the like, are read nested: CloudTrail writes the
        // top-level keys itself, and no record has a dotted one.)
        r#"{"eventName":"A","requestParameters.bucketName":"Literal","requestParameters":{"bucketName":"b"}}"#,
        // Duplicate keys inside a member: the last one counts. (A record with a duplicate
        // top-level key is refused by the parser before any rule sees it.)
        r#"{"eventName":"A","requestParameters":{"x":1,"x":2}}"#,
        // Types Sigma tells apart: bool, null, number, array, non-string typed fields.
        r#"{"eventName":7,"errorCode":null,"responseElements":{"publiclyAccessible":true,"n":1.5,"a":[{"k":"v"},{"k":"w"}]},"userIdentity":{"type":null,"arn":["x"]}}"#,
        r#"{"requestParameters":null,"resources":[{"ARN":"arn:aws:s3:::b"}],"userAgent":"\u0041\"b"}"#,
        // Whitespace everywhere, and a repeated member no typed field reads (the last counts).
        "{ \"eventName\" : \"A\" ,\n \"tlsDetails\" : { \"v\" : 1 } , \"tlsDetails\":{\"v\":[2 , 3]} ,\t\"x\" : true }",
        r#"{"eventName":"A","requestParameters":{"k":"a}\"]"},"responseElements":"s","x":-1.5e3}"#,
    ];
    let mut records: Vec<Value> = odd
        .iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect();
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/samples/stratus-detonation-logs");
    if let Ok(entries) = std::fs::read_dir(&samples) {
        for entry in entries {
            let doc: Value =
                serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap())
                    .unwrap();
            let list = doc
                .as_array()
                .cloned()
                .or_else(|| doc["Records"].as_array().cloned())
                .unwrap_or_default();
            records.extend(list);
        }
    }
    assert!(
        records.len() > 100,
        "Stratus recordings not found at {samples:?}"
    );
    let mut checked = 0;
    for (i, value) in records.iter().enumerate() {
        // The odd ones as written (duplicates, escapes), the recordings as serialized.
        let bytes = odd.get(i).map_or_else(
            || serde_json::to_vec(value).unwrap(),
            |t| t.as_bytes().to_vec(),
        );
        let record = crate::detector::record::Record::from_slice(&bytes).unwrap();
        let lazy = RecordEvent::new(&record);
        // The same record read by the log reader: its members are found from the landmarks.
        let log = [b"{\"Records\":[".as_slice(), &bytes, b"]}"].concat();
        let mut reader = crate::detector::reader::LogReader::open(
            log.as_slice(),
            crate::detector::reader::ReaderConfig::default(),
        )
        .unwrap();
        let raw = reader.next_record().unwrap().expect("one record");
        let framed_record = crate::detector::record::Record::from_raw(&raw).unwrap();
        let framed = RecordEvent::new(&framed_record);
        let whole = rsigma_eval::event::JsonEvent::borrow(value);
        let mut paths = Vec::new();
        all_paths(value, "", &mut paths);
        paths.extend(
            [
                "errorCode",
                "absent",
                "absent.deeper",
                "requestParameters.absent",
                "userIdentity.sessionContext.sessionIssuer.type",
                "resources.ARN",
            ]
            .map(String::from),
        );
        for path in &paths {
            assert_eq!(
                lazy.get_field(path),
                whole.get_field(path),
                "record {i}, path {path}"
            );
            assert_eq!(
                framed.get_field(path),
                whole.get_field(path),
                "record {i} framed, path {path}"
            );
            checked += 1;
        }
    }
    assert!(checked > 1000);
}
