//! Tests for `skim`.

use super::*;
use crate::detector::record::Record;

/// The invariant: whenever the skim is sure, the full parse either refuses the record or
/// reads the same source and name.
fn agrees(json: &str) -> Skim<'_> {
    let s = skim(json.as_bytes());
    if let Skim::Known {
        source,
        name,
        identity_type,
    } = s
        && let Ok(record) = Record::from_slice(json.as_bytes())
    {
        let parsed_type = record
            .user_identity
            .as_ref()
            .and_then(|u| u.identity_type.as_deref());
        assert_eq!(
            (record.source(), record.name(), parsed_type),
            (source, name, identity_type),
            "{json}"
        );
    }
    s
}

fn known<'a>(source: &'a str, name: &'a str) -> Skim<'a> {
    Skim::Known {
        source,
        name,
        identity_type: None,
    }
}

#[test]
fn reads_top_level_fields_in_any_order_and_spacing() {
    assert_eq!(
        agrees(r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}"#),
        known("s3.amazonaws.com", "GetObject")
    );
    assert_eq!(
        agrees(
            " {\n\t\"userIdentity\" : {\"eventName\":\"Nested\",\"x\":[1,{\"eventSource\":\"n\"}]} ,\r\n \"eventName\" : \"PutBucketPolicy\", \"n\": -1.5e3, \"b\": true, \"z\": null, \"eventSource\":\"s3.amazonaws.com\" } "
        ),
        Skim::Known {
            source: "s3.amazonaws.com",
            name: "PutBucketPolicy",
            identity_type: None,
        }
    );
    assert_eq!(
        agrees(
            r#"{"userIdentity":{"arn":"x","sessionContext":{"type":"Inner"},"type":"Root"},"eventSource":"a","eventName":"b"}"#
        ),
        Skim::Known {
            source: "a",
            name: "b",
            identity_type: Some("Root"),
        }
    );
}

#[test]
fn nested_keys_and_strings_with_braces_do_not_confuse_it() {
    assert_eq!(
        agrees(
            r#"{"requestParameters":{"policy":"{\"eventName\":\"x\"}]}","eventName":"inner"},"eventSource":"a","eventName":"b"}"#
        ),
        known("a", "b")
    );
}

#[test]
fn is_unsure_whenever_the_full_parse_could_read_otherwise() {
    for json in [
        r#"{"eventSource":"a","eventName":"b","eventName":"c"}"#,
        r#"{"eventSource":"a","eventSource":"a","eventName":"b"}"#,
        r#"{"eventSource":"a","event\u004eame":"b"}"#,
        r#"{"eventSource":"a","eventName":"Put\u0042ucketPolicy"}"#,
        r#"{"eventSource":"a","eventName":123}"#,
        r#"{"eventSource":"a","eventName":null}"#,
        r#"{"eventSource":"a"}"#,
        r#"{"eventName":"b"}"#,
        r#"{"eventSource":"a","eventName":"é"}"#,
        r#"{"eventSource":"a","eventName":"b""#,
        r#"{"eventSource":"a","eventName":"b"} x"#,
        r#"{"eventSource":"a","eventName":"b","userIdentity":{"type":"Root","type":"IAMUser"}}"#,
        r#"{"eventSource":"a","eventName":"b","userIdentity":{"typ\u0065":"Root"}}"#,
        r#"{"eventSource":"a","eventName":"b","userIdentity":{"type":null}}"#,
        r#"{"eventSource":"a","eventName":"b","userIdentity":"Root"}"#,
        r#"{"eventSource":"a","eventName":"b","userIdentity":{},"userIdentity":{"type":"Root"}}"#,
        r#"["eventSource","a"]"#,
        r#"{}"#,
        "",
    ] {
        assert_eq!(agrees(json), Skim::Unknown, "{json}");
    }
}

#[test]
fn invalid_utf8_elsewhere_is_left_to_the_full_parse_only_when_wanted() {
    let mut bytes = br#"{"userAgent":"x","eventSource":"a","eventName":"b"}"#.to_vec();
    bytes[14] = 0xff;
    assert_eq!(skim(&bytes), known("a", "b"));
    assert!(Record::from_slice(&bytes).is_err());
}
