//! Phrasing shared by rules: who did it, and whom a change lets in. Every string that reaches a
//! summary is escaped and bounded here, once.

use crate::detector::record::Record;
use crate::detector::rule::{Finding, Unevaluable};
use crate::detector::text::clean;
use crate::detector::threshold::{ThresholdRequest, parse_event_time};

/// Who did it, for summaries: the caller's ARN, else its type, escaped and bounded.
pub fn actor_name(record: &Record<'_>) -> String {
    let identity = record.user_identity.as_ref();
    let name = identity
        .and_then(|u| u.arn.as_deref())
        .or_else(|| identity.and_then(|u| u.invoked_by.as_deref()))
        .or_else(|| identity.and_then(|u| u.identity_type.as_deref()))
        .unwrap_or("an unknown caller");
    clean(name, 200)
}

/// "account 1", "accounts 1, 2", bounded for summaries.
pub fn describe_accounts<'a>(accounts: impl IntoIterator<Item = &'a String>) -> String {
    let list: Vec<&String> = accounts.into_iter().collect();
    let shown: Vec<String> = list.iter().take(5).map(|s| clean(s, 64)).collect();
    let more = if list.len() > 5 {
        format!(" and {} more", list.len() - 5)
    } else {
        String::new()
    };
    let noun = if list.len() == 1 {
        "account"
    } else {
        "accounts"
    };
    format!("{noun} {}{more}", shown.join(", "))
}

/// Whom a change lets in: "everyone", "account 1", "everyone and accounts 1, 2".
pub fn describe_whom<'a>(
    public: bool,
    accounts: impl IntoIterator<Item = &'a String>,
    public_label: &str,
) -> String {
    let accounts: Vec<&String> = accounts.into_iter().collect();
    match (public, accounts.is_empty()) {
        (true, true) => public_label.to_owned(),
        (true, false) => format!("{public_label} and {}", describe_accounts(accounts)),
        (false, _) => describe_accounts(accounts),
    }
}

/// Whom a change lets in, organizations included: "everyone", "account 1 and organization o-x".
pub fn describe_outsiders<'a>(
    public: bool,
    accounts: impl IntoIterator<Item = &'a String>,
    organizations: impl IntoIterator<Item = &'a String>,
    public_label: &str,
) -> String {
    let accounts: Vec<&String> = accounts.into_iter().collect();
    let orgs: Vec<String> = organizations
        .into_iter()
        .take(5)
        .map(|o| clean(o, 80))
        .collect();
    let mut parts = Vec::new();
    if public || (accounts.is_empty() && orgs.is_empty()) {
        parts.push(public_label.to_owned());
    }
    if !accounts.is_empty() {
        parts.push(describe_accounts(accounts));
    }
    if !orgs.is_empty() {
        let noun = if orgs.len() == 1 {
            "organization"
        } else {
            "organizations"
        };
        parts.push(format!("{noun} {}", orgs.join(", ")));
    }
    parts.join(" and ")
}

/// " (failed: AccessDenied)" for a failed call, "" otherwise: summaries of attempts say so.
pub fn failure_suffix(record: &Record<'_>) -> String {
    record
        .error()
        .map(|e| format!(" (failed: {})", clean(e, 80)))
        .unwrap_or_default()
}

/// True when an AWS service made the call on a principal's behalf (CloudFormation, SSM
/// maintenance windows, Inspector, the Session Manager GUI): `userIdentity.type` `AWSService`, an
/// `invokedBy` service, or a service host name as `sourceIPAddress`. Such calls carry out a
/// change someone defined elsewhere; rules about hands-on activity leave them out.
pub fn made_by_service(record: &Record<'_>) -> bool {
    let is_service_host = |s: &str| {
        let s = s.trim().to_ascii_lowercase();
        s.ends_with(".amazonaws.com") || s.ends_with(".amazonaws.com.cn")
    };
    let identity = record.user_identity.as_ref();
    identity
        .and_then(|u| u.identity_type.as_deref())
        .is_some_and(|t| t == "AWSService")
        || identity
            .and_then(|u| u.invoked_by.as_deref())
            .is_some_and(is_service_host)
        || record
            .source_ip_address
            .as_deref()
            .is_some_and(is_service_host)
}

/// The caller's IAM user name when the caller is an IAM user (`userIdentity.userName`, else
/// the name in its ARN); `None` for roles, root, federated users and services.
pub fn caller_iam_user<'r>(record: &'r Record<'_>) -> Option<&'r str> {
    let identity = record.user_identity.as_ref()?;
    if identity.identity_type.as_deref() != Some("IAMUser") {
        return None;
    }
    identity
        .user_name
        .as_deref()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            identity
                .arn
                .as_deref()
                .and_then(|arn| arn.rsplit_once(":user/"))
                .map(|(_, path)| path.rsplit('/').next().unwrap_or(path))
        })
}

/// True when `target_user` names an IAM user other than the caller. IAM user names are unique
/// case-insensitively, so `Alice` and `alice` are the same user. Any caller that is not an IAM
/// user (a role session, root, a federated user) acts on another user by definition.
pub fn is_another_user(record: &Record<'_>, target_user: &str) -> bool {
    match caller_iam_user(record) {
        Some(caller) => !caller.eq_ignore_ascii_case(target_user.trim()),
        None => true,
    }
}

/// True when a person is at the keyboard, as far as CloudTrail shows: an IAM user, the root
/// user, a federated user, or a session of an IAM Identity Center permission set role
/// (`AWSReservedSSO_*`); never a call an AWS service made. Sessions of other roles are mostly
/// automation (deploy pipelines, instance profiles) and are not counted.
pub fn is_human_principal(record: &Record<'_>) -> bool {
    if made_by_service(record) {
        return false;
    }
    let Some(identity) = record.user_identity.as_ref() else {
        return false;
    };
    match identity.identity_type.as_deref() {
        Some("IAMUser" | "Root" | "FederatedUser") => true,
        Some("AssumedRole") => identity
            .session_context
            .as_ref()
            .and_then(|c| c.session_issuer.as_ref())
            .and_then(|i| i.arn.as_deref())
            .and_then(|arn| arn.rsplit('/').next())
            .is_some_and(|role| role.starts_with("AWSReservedSSO_")),
        _ => false,
    }
}

/// The caller's ARN (else principal id, else type) for dedup keys: one alert per actor.
pub fn actor_key(record: &Record<'_>) -> String {
    let identity = record.user_identity.as_ref();
    identity
        .and_then(|u| u.arn.as_deref())
        .or_else(|| identity.and_then(|u| u.principal_id.as_deref()))
        .or_else(|| identity.and_then(|u| u.identity_type.as_deref()))
        .unwrap_or("-")
        .to_owned()
}

/// Whom a threshold rule counts: the role for role sessions (an attacker rotating session names
/// stays one principal, and a fleet sharing a role reads the same few items), else the caller's
/// ARN, else its principal id. `None` for calls an AWS service made on a principal's behalf
/// (CloudFormation dynamic references, Auto Scaling launches: `sourceIPAddress` is the
/// service's host name) and for AWS service identities: those are not a person or workload
/// harvesting credentials.
pub fn counted_principal(record: &Record<'_>) -> Result<Option<String>, Unevaluable> {
    let identity = record
        .user_identity
        .as_ref()
        .ok_or(Unevaluable::Missing("userIdentity"))?;
    if made_by_service(record) {
        return Ok(None);
    }
    let role = identity
        .session_context
        .as_ref()
        .and_then(|c| c.session_issuer.as_ref())
        .filter(|i| i.issuer_type.as_deref() == Some("Role"))
        .and_then(|i| i.arn.as_deref());
    role.or(identity.arn.as_deref())
        .or(identity.principal_id.as_deref())
        .filter(|s| !s.is_empty())
        .map(|s| Some(s.to_owned()))
        .ok_or(Unevaluable::Missing("userIdentity.arn"))
}

/// The record's `eventTime` in Unix seconds: threshold windows are aligned on it.
pub fn event_epoch(record: &Record<'_>) -> Result<u64, Unevaluable> {
    let text = record
        .event_time
        .as_deref()
        .ok_or(Unevaluable::Missing("eventTime"))?;
    parse_event_time(text).ok_or_else(|| {
        Unevaluable::malformed("eventTime", format!("{:?} is not a time", clean(text, 40)))
    })
}

/// A threshold finding that counts one EC2 instance (by account, region and id) towards
/// `subject`'s distinct instances in a window: the shape every "many instances" rule shares.
/// `what` completes "<actor> <what>" in the summary.
pub fn counted_instance(
    record: &Record<'_>,
    subject: String,
    instance: &str,
    what: &str,
    threshold: u32,
    window_minutes: u32,
) -> Result<Finding, Unevaluable> {
    let member = format!(
        "{}:{}:{instance}",
        record.owner_account().unwrap_or("-"),
        record.aws_region.as_deref().unwrap_or("-")
    );
    Ok(Finding::new(
        format!("{} {what}{}", actor_name(record), failure_suffix(record)),
        serde_json::json!({
            "principal": clean(&subject, 300),
            "instance": clean(instance, 100),
            "failed": record.failed(),
        }),
        vec![subject.clone()],
    )
    .counted(ThresholdRequest {
        subject,
        counter: "",
        members: vec![member],
        counts: "instances",
        threshold,
        window_minutes,
        event_epoch: event_epoch(record)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whom_reads_naturally() {
        let one = vec!["444455556666".to_string()];
        let many: Vec<String> = (0..7).map(|i| format!("{i:012}")).collect();
        assert_eq!(describe_whom(true, &[], "everyone"), "everyone");
        assert_eq!(
            describe_whom(false, &one, "everyone"),
            "account 444455556666"
        );
        assert_eq!(
            describe_whom(true, &one, "everyone"),
            "everyone and account 444455556666"
        );
        assert!(describe_whom(false, &many, "everyone").ends_with("and 2 more"));
        let org = vec!["o-abcdefghij".to_string()];
        assert_eq!(
            describe_outsiders(false, &one, &org, "everyone"),
            "account 444455556666 and organization o-abcdefghij"
        );
        assert_eq!(describe_outsiders(true, &[], &[], "everyone"), "everyone");
    }

    #[test]
    fn failed_calls_are_named_in_summaries() {
        let failed = Record::from_slice(br#"{"errorCode":"AccessDenied"}"#).unwrap();
        assert_eq!(failure_suffix(&failed), " (failed: AccessDenied)");
        let ok = Record::from_slice(br#"{}"#).unwrap();
        assert_eq!(failure_suffix(&ok), "");
    }

    #[test]
    fn another_user_is_judged_case_insensitively_and_roles_always_act_on_others() {
        let user = Record::from_slice(
            br#"{"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/ops/Alice","userName":"Alice"}}"#,
        )
        .unwrap();
        assert_eq!(caller_iam_user(&user), Some("Alice"));
        assert!(!is_another_user(&user, "alice"));
        assert!(is_another_user(&user, "bob"));
        let no_name = Record::from_slice(
            br#"{"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/ops/alice"}}"#,
        )
        .unwrap();
        assert_eq!(caller_iam_user(&no_name), Some("alice"));
        let role = Record::from_slice(
            br#"{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/r/alice"}}"#,
        )
        .unwrap();
        assert!(is_another_user(&role, "alice"));
    }

    #[test]
    fn people_are_users_root_federated_and_identity_center_sessions() {
        for json in [
            &br#"{"userIdentity":{"type":"IAMUser"}}"#[..],
            br#"{"userIdentity":{"type":"Root"}}"#,
            br#"{"userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_admin_599c9e90e350d2ff"}}}}"#,
        ] {
            assert!(is_human_principal(&Record::from_slice(json).unwrap()));
        }
        for json in [
            &br#"{"userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/deploy"}}}}"#[..],
            br#"{"userIdentity":{"type":"IAMUser"},"sourceIPAddress":"cloudformation.amazonaws.com"}"#,
            br#"{}"#,
        ] {
            assert!(!is_human_principal(&Record::from_slice(json).unwrap()));
        }
    }

    #[test]
    fn service_made_calls_are_recognised() {
        for json in [
            &br#"{"userIdentity":{"type":"AWSService","invokedBy":"ssm.amazonaws.com"}}"#[..],
            br#"{"userIdentity":{"type":"AssumedRole","invokedBy":"cloudformation.amazonaws.com"}}"#,
            br#"{"userIdentity":{"type":"IAMUser"},"sourceIPAddress":"ssm-guiconnect.amazonaws.com"}"#,
        ] {
            assert!(made_by_service(&Record::from_slice(json).unwrap()));
        }
        let person = Record::from_slice(
            br#"{"userIdentity":{"type":"IAMUser"},"sourceIPAddress":"203.0.113.7"}"#,
        )
        .unwrap();
        assert!(!made_by_service(&person));
        let console = Record::from_slice(
            br#"{"userIdentity":{"type":"IAMUser"},"sourceIPAddress":"AWS Internal"}"#,
        )
        .unwrap();
        assert!(!made_by_service(&console));
    }
}
