//! Policy analysis over arbitrary bytes parsed as JSON, and over arbitrary text given as a
//! policy string (CloudTrail records bucket policies both ways).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use trailwatch::detector::arn::is_account_id;
use trailwatch::detector::policy::PolicyAnalysis;

const OWNER: &str = "111122223333";

fn check(analysis: &PolicyAnalysis) {
    for grant in &analysis.grants {
        // Accounts come only from 12-digit ids: never from substrings or wildcards.
        assert!(grant.accounts.iter().all(|a| is_account_id(a)), "{grant:?}");
        assert!(!grant.sid.is_empty());
    }
    let everyone_internal = analysis.external_access(|_| true, |_| true);
    assert!(everyone_internal.accounts.is_empty());
    let external = analysis.external_access(|a| a == OWNER, |_| true);
    assert!(!external.accounts.contains(OWNER));
    assert_eq!(
        external.public,
        analysis.grants.iter().any(|g| g.public),
        "public is the union of the grants"
    );
    assert_eq!(external.any(), !external.statement_ids.is_empty());
    serde_json::to_string(analysis).expect("analysis serializes");
    serde_json::to_string(&external).expect("external access serializes");
}

fuzz_target!(|data: &[u8]| {
    let as_json = serde_json::from_slice::<Value>(data).ok();
    let from_json = as_json.as_ref().map(PolicyAnalysis::from_value);
    if let Some(Ok(analysis)) = &from_json {
        check(analysis);
    }
    let text = String::from_utf8_lossy(data).into_owned();
    let from_string = PolicyAnalysis::from_value(&Value::String(text));
    if let Ok(analysis) = &from_string {
        check(analysis);
    }
    // A policy given as a JSON string reads exactly like the same policy given as an object.
    if let (Some(Value::Object(_)), Some(Ok(analysis))) = (&as_json, from_json) {
        assert_eq!(from_string.as_ref(), Ok(&analysis));
    }
});
