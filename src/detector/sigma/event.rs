//! A parsed record seen as a Sigma event, its JSON tree built only when a rule needs it.

use crate::detector::record::Record;
use rsigma_eval::event::{Event, EventValue, JsonEvent};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::OnceCell;

/// A record as a Sigma event. The string fields the typed [`Record`] already holds are served
/// from it; anything else (and any of those fields when absent or not a string, where Sigma's
/// null and type semantics need the real JSON) is read from the record's JSON value, parsed
/// at most once. Rules that run on every record thus cost no JSON tree in the common case.
pub struct RecordEvent<'r, 'a> {
    record: &'r Record<'a>,
    json: OnceCell<JsonEvent<'static>>,
}

impl<'r, 'a> RecordEvent<'r, 'a> {
    /// Wraps a parsed record.
    pub fn new(record: &'r Record<'a>) -> Self {
        RecordEvent {
            record,
            json: OnceCell::new(),
        }
    }

    /// The record as a JSON event (parsed on first use).
    fn json(&self) -> &JsonEvent<'static> {
        self.json
            .get_or_init(|| JsonEvent::owned(self.record.to_value()))
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
            None => self.json().get_field(path),
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
