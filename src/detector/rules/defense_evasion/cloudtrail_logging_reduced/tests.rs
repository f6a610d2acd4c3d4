//! Tests for `cloudtrail_logging_reduced`.

use super::*;
use crate::detector::rules::defense_evasion::test_records::{call, denied};
use crate::detector::rules::testing::{assert_fires, assert_silent, assert_unevaluable};

fn put_event_selectors(params: Value) -> String {
    call(CLOUDTRAIL, "PutEventSelectors", params, Value::Null).to_string()
}

/// aws.defense-evasion.cloudtrail-event-selectors.json (Stratus), also Panther's
/// "Event Selector Disabled" test: one data-only selector.
fn stratus_selectors() -> Value {
    json!({"eventSelectors": [{"dataResources": [{"type": "AWS::S3::Object", "values": []},
            {"type": "AWS::Lambda::Function", "values": []}], "excludeManagementEventSources": [],
            "includeManagementEvents": false, "readWriteType": "ReadOnly"}],
            "trailName": "stratus-red-team-ctes-trail-khlvciwdor"})
}

#[test]
fn selectors_that_drop_management_events_fire() {
    let f = assert_fires(&RULE, &put_event_selectors(stratus_selectors()));
    assert_eq!(f.severity, Some(Severity::Medium));
    assert_eq!(f.details["logs_write_management_events"], false);
    assert!(
        f.summary.contains("no longer logs management events"),
        "{}",
        f.summary
    );
    let read_only = json!({"trailName": "t", "eventSelectors": [
            {"includeManagementEvents": true, "readWriteType": "ReadOnly"}]});
    let f = assert_fires(&RULE, &put_event_selectors(read_only));
    assert_eq!(f.severity, Some(Severity::Medium));
    assert!(f.summary.contains("write management events"));
}

#[test]
fn dropping_only_read_events_is_low() {
    let write_only = json!({"trailName": "t", "eventSelectors": [
            {"includeManagementEvents": true, "readWriteType": "WriteOnly"}]});
    let f = assert_fires(&RULE, &put_event_selectors(write_only));
    assert_eq!(f.severity, Some(Severity::Low));
}

#[test]
fn a_data_selector_beside_a_management_selector_is_silent_panther_false_positive() {
    let both = json!({"trailName": "t", "eventSelectors": [
            {"includeManagementEvents": true, "readWriteType": "All", "excludeManagementEventSources": ["kms.amazonaws.com"]},
            {"includeManagementEvents": false, "readWriteType": "All",
             "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}]});
    assert_silent(&RULE, &put_event_selectors(both));
    // Defaults: a selector without the fields logs all management events.
    assert_silent(
        &RULE,
        &put_event_selectors(json!({"trailName": "t", "eventSelectors": [{}]})),
    );
}

#[test]
fn advanced_selectors_are_judged() {
    // Shapes from the AdvancedEventSelector API reference, as CloudTrail logs them.
    let data_only = json!({"trailName": "t", "advancedEventSelectors": [{"name": "S3 data",
            "fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]},
                               {"field": "resources.type", "equals": ["AWS::S3::Object"]}]}]});
    let f = assert_fires(&RULE, &put_event_selectors(data_only));
    assert_eq!(f.details["advanced_selectors"], true);
    let mgmt_reads = json!({"trailName": "t", "advancedEventSelectors": [{"name": "reads",
            "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]},
                               {"field": "readOnly", "equals": ["true"]}]}]});
    assert_eq!(
        assert_fires(&RULE, &put_event_selectors(mgmt_reads)).severity,
        Some(Severity::Medium)
    );
    let mgmt_all = json!({"trailName": "t", "advancedEventSelectors": [
            {"name": "mgmt", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]},
            {"name": "data", "fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}]}]});
    assert_silent(&RULE, &put_event_selectors(mgmt_all));
    let writes_and_reads = json!({"trailName": "t", "advancedEventSelectors": [
            {"fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]},
                                {"field": "readOnly", "notEquals": ["true"]}]},
            {"fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]},
                                {"field": "readOnly", "equals": ["true"]}]}]});
    assert_silent(&RULE, &put_event_selectors(writes_and_reads));
}

#[test]
fn update_trail_reductions_fire_and_other_updates_do_not() {
    let single_region = call(
        CLOUDTRAIL,
        "UpdateTrail",
        json!({"name": "main", "isMultiRegionTrail": false}),
        Value::Null,
    );
    let f = assert_fires(&RULE, &single_region.to_string());
    assert!(f.summary.contains("other regions"), "{}", f.summary);
    let moved = call(
        CLOUDTRAIL,
        "UpdateTrail",
        json!({"name": "main", "s3BucketName": "attacker-bucket", "includeGlobalServiceEvents": false}),
        Value::Null,
    );
    let f = assert_fires(&RULE, &moved.to_string());
    assert_eq!(f.details["s3_bucket"], "attacker-bucket");
    assert_eq!(f.details["changes"].as_array().unwrap().len(), 2);
    for harmless in [
        json!({"name": "main", "isMultiRegionTrail": true, "enableLogFileValidation": true}),
        json!({"name": "main", "kmsKeyId": "arn:aws:kms:us-east-1:143434273843:key/k"}),
    ] {
        assert_silent(
            &RULE,
            &call(CLOUDTRAIL, "UpdateTrail", harmless, Value::Null).to_string(),
        );
    }
}

#[test]
fn insights_switched_off_is_low_and_on_is_silent() {
    let off = call(
        CLOUDTRAIL,
        "PutInsightSelectors",
        json!({"trailName": "t", "insightSelectors": []}),
        Value::Null,
    );
    assert_eq!(
        assert_fires(&RULE, &off.to_string()).severity,
        Some(Severity::Low)
    );
    let on = call(
        CLOUDTRAIL,
        "PutInsightSelectors",
        json!({"trailName": "t", "insightSelectors": [{"insightType": "ApiCallRateInsight"}]}),
        Value::Null,
    );
    assert_silent(&RULE, &on.to_string());
}

#[test]
fn failed_attempts_are_low_and_unreadable_requests_are_counted() {
    let failed = call(
        CLOUDTRAIL,
        "PutEventSelectors",
        stratus_selectors(),
        Value::Null,
    );
    let f = assert_fires(&RULE, &denied(failed));
    assert_eq!(f.severity, Some(Severity::Low));
    assert!(f.summary.contains("(failed: AccessDenied)"));
    assert_unevaluable(&RULE, &put_event_selectors(json!({"trailName": "t"})));
    assert_unevaluable(
        &RULE,
        &put_event_selectors(json!({"eventSelectors": "not a list"})),
    );
}
