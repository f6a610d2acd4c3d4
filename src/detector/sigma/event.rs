//! A parsed record seen as a Sigma event, its JSON read only as far as a rule asks.

use crate::detector::record::Record;
use crate::detector::skim::framed_members;
use rsigma_eval::event::{Event, EventValue, JsonEvent};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;

/// One top-level member of the record: its raw JSON, and once asked, an event holding only it.
struct Member<'a> {
    raw: &'a str,
    event: OnceCell<JsonEvent<'static>>,
}

/// A record as a Sigma event. The string fields the typed [`Record`] already holds are served
/// from it; any other field (and any of those fields when absent or not a string, where Sigma's
/// null and type semantics need the real JSON) is read from the one top-level member its path
/// starts with, parsed on first use: `requestParameters.bucketName` costs a tree of
/// `requestParameters`, not of the record. Keyword searches over every value, and paths with
/// escapes or indexes, read the whole record's JSON value, parsed at most once.
pub struct RecordEvent<'r, 'a> {
    record: &'r Record<'a>,
    /// The record's top-level members by key (the last of duplicates, as a JSON value keeps);
    /// `None` inside when the record is not a JSON object.
    members: OnceCell<Option<BTreeMap<Cow<'a, str>, Member<'a>>>>,
    json: OnceCell<JsonEvent<'static>>,
}

impl<'r, 'a> RecordEvent<'r, 'a> {
    /// Wraps a parsed record.
    pub fn new(record: &'r Record<'a>) -> Self {
        RecordEvent {
            record,
            members: OnceCell::new(),
            json: OnceCell::new(),
        }
    }

    /// The record as a JSON event (parsed on first use).
    fn json(&self) -> &JsonEvent<'static> {
        self.json
            .get_or_init(|| JsonEvent::owned(self.record.to_value()))
    }

    /// The record's top-level members, indexed on first use without parsing their values.
    fn members(&self) -> Option<&BTreeMap<Cow<'a, str>, Member<'a>>> {
        self.members
            .get_or_init(|| {
                let member = |(key, raw)| {
                    let member = Member {
                        raw,
                        event: OnceCell::new(),
                    };
                    (key, member)
                };
                let raw: &'a [u8] = self.record.raw;
                // From the landmarks framing noted, when they can say: no parse at all.
                if let Some(marks) = self.record.landmarks
                    && let Some(found) = framed_members(raw, marks)
                {
                    let as_text = |(key, value): (&'a [u8], &'a [u8])| {
                        Some((
                            Cow::Borrowed(std::str::from_utf8(key).ok()?),
                            std::str::from_utf8(value).ok()?,
                        ))
                    };
                    if let Some(found) = found.into_iter().map(as_text).collect::<Option<Vec<_>>>()
                    {
                        // Collected in order, so a repeated key keeps its last value, as a
                        // JSON value does.
                        return Some(found.into_iter().map(member).collect());
                    }
                }
                let shallow: BTreeMap<Cow<'a, str>, &'a RawValue> =
                    serde_json::from_slice(raw).ok()?;
                Some(
                    shallow
                        .into_iter()
                        .map(|(key, raw)| member((key, raw.get())))
                        .collect(),
                )
            })
            .as_ref()
    }

    /// A field read from the one member it lives in: the member named by the whole path (a
    /// literal dotted key wins, as in a JSON event), else the member its first segment names.
    /// `None` when that member is absent; falls back to the whole record for paths with
    /// escapes or indexes, and for records that are not JSON objects.
    fn member_field(&self, path: &str) -> Option<EventValue<'_>> {
        if path.contains(['[', '\\']) || path.starts_with('.') {
            return self.json().get_field(path);
        }
        let Some(members) = self.members() else {
            return self.json().get_field(path);
        };
        let (key, member) = match members.get_key_value(path) {
            Some(found) => found,
            None => {
                let root = path.split_once('.').map_or(path, |(root, _)| root);
                members.get_key_value(root)?
            }
        };
        let event = member.event.get_or_init(|| {
            // A member that does not parse alone would not have parsed in the record either.
            let value = serde_json::from_str(member.raw).unwrap_or(Value::Null);
            let mut only = Map::new();
            only.insert(key.clone().into_owned(), value);
            JsonEvent::owned(Value::Object(only))
        });
        event.get_field(path)
    }

    fn typed(&self, path: &str) -> Option<&str> {
        let r = self.record;
        let identity = r.user_identity.as_ref();
        let issuer = || {
            identity
                .and_then(|u| u.session_context.as_ref())
                .and_then(|c| c.session_issuer.as_ref())
        };
        let field = match path {
            "eventSource" => &r.event_source,
            "eventName" => &r.event_name,
            "eventTime" => &r.event_time,
            "eventVersion" => &r.event_version,
            "awsRegion" => &r.aws_region,
            "sourceIPAddress" => &r.source_ip_address,
            "userAgent" => &r.user_agent,
            "recipientAccountId" => &r.recipient_account_id,
            "errorCode" => &r.error_code,
            "errorMessage" => &r.error_message,
            "eventID" => &r.event_id,
            "eventType" => &r.event_type,
            "userIdentity.type" => &identity?.identity_type,
            "userIdentity.arn" => &identity?.arn,
            "userIdentity.accountId" => &identity?.account_id,
            "userIdentity.principalId" => &identity?.principal_id,
            "userIdentity.userName" => &identity?.user_name,
            "userIdentity.accessKeyId" => &identity?.access_key_id,
            "userIdentity.invokedBy" => &identity?.invoked_by,
            "userIdentity.sessionContext.sessionIssuer.arn" => &issuer()?.arn,
            "userIdentity.sessionContext.sessionIssuer.type" => &issuer()?.issuer_type,
            _ => return None,
        };
        field.as_deref()
    }
}

impl Event for RecordEvent<'_, '_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        match self.typed(path) {
            Some(s) => Some(EventValue::Str(Cow::Borrowed(s))),
            None => self.member_field(path),
        }
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.json().any_string_value(pred)
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        self.json().all_string_values()
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        self.json().visit_string_values(visit)
    }

    fn to_json(&self) -> Value {
        self.json().to_json()
    }
}
