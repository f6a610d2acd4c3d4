//! A borrowed view of one CloudTrail record.
//!
//! Common fields are read once, borrowing from the record's bytes where the JSON allows it.
//! `requestParameters`, `responseElements`, `resources` and `additionalEventData` stay raw
//! until a rule asks for them, so a record no rule wants costs only this parse.
//!
//! Parsing is lenient by design: attackers shape much of what lands in CloudTrail, and AWS adds
//! fields without notice. Unknown fields are ignored; a common field that is null, missing or of
//! an unexpected JSON type reads as absent instead of failing the record.

use crate::detector::reader::RawRecord;
use crate::detector::rule::Unevaluable;
use crate::detector::skim::{FieldRead, Landmarks, Wanted};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// One CloudTrail record, borrowing from the bytes it was parsed from.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `eventVersion` (e.g. `1.08`).
    pub event_version: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `eventTime`, ISO 8601 UTC.
    pub event_time: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `eventSource`, the service endpoint (`iam.amazonaws.com`).
    pub event_source: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `eventName`, the API call.
    pub event_name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `awsRegion`.
    pub aws_region: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        rename = "sourceIPAddress",
        deserialize_with = "lenient_str"
    )]
    /// `sourceIPAddress`: an address, or a service name.
    pub source_ip_address: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `userAgent`.
    pub user_agent: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_object")]
    /// `userIdentity`: who made the call.
    pub user_identity: Option<UserIdentity<'a>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `recipientAccountId`: the account whose trail logged the call.
    pub recipient_account_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `errorCode`, set when the call failed.
    pub error_code: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `errorMessage`, sometimes set without an error code.
    pub error_message: Option<Cow<'a, str>>,
    #[serde(default, borrow, rename = "eventID", deserialize_with = "lenient_str")]
    /// `eventID`.
    pub event_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `eventType` (`AwsApiCall`, `AwsConsoleSignIn`, ...).
    pub event_type: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    /// `readOnly`.
    pub read_only: Option<bool>,
    #[serde(default, borrow)]
    /// `requestParameters`, left raw until a rule parses it.
    pub request_parameters: Option<&'a RawValue>,
    #[serde(default, borrow)]
    /// `responseElements`, left raw until a rule parses it.
    pub response_elements: Option<&'a RawValue>,
    #[serde(default, borrow)]
    /// `resources`, left raw until a rule parses it.
    pub resources: Option<&'a RawValue>,
    #[serde(default, borrow)]
    /// `additionalEventData`, left raw until a rule parses it.
    pub additional_event_data: Option<&'a RawValue>,
    /// The record's own JSON text, kept for the alert's `record` field.
    #[serde(skip)]
    pub raw: &'a [u8],
    /// What framing noted in `raw`, when the record came from the log reader.
    #[serde(skip)]
    pub landmarks: Option<&'a Landmarks>,
    /// The fields the skim read of `raw` for text gates, and which fields those are (see
    /// [`Detector::skim_wanted`](crate::detector::Detector::skim_wanted)).
    #[serde(skip)]
    pub skimmed: Option<(&'a Wanted, &'a [FieldRead])>,
}

/// Who made the call: the `userIdentity` block.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    #[serde(default, borrow, rename = "type", deserialize_with = "lenient_str")]
    /// `type` (`IAMUser`, `AssumedRole`, `Root`, `AWSService`, ...).
    pub identity_type: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `principalId`.
    pub principal_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `arn` of the caller.
    pub arn: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `accountId` the caller belongs to.
    pub account_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `accessKeyId` the call was signed with.
    pub access_key_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `userName` (IAM users and root).
    pub user_name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `invokedBy`: the service acting for the caller.
    pub invoked_by: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_object")]
    /// `sessionContext` of temporary credentials.
    pub session_context: Option<SessionContext<'a>>,
}

/// `userIdentity.sessionContext`: only the issuer matters for triage.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_object")]
    /// `sessionIssuer`: the role or user that issued the session.
    pub session_issuer: Option<SessionIssuer<'a>>,
}

/// The role or user whose credentials a session came from.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    /// `arn` of the issuing role or user.
    pub arn: Option<Cow<'a, str>>,
    #[serde(default, borrow, rename = "type", deserialize_with = "lenient_str")]
    /// `type` of the issuer (`Role`, `IAMUser`, `Root`).
    pub issuer_type: Option<Cow<'a, str>>,
}

impl<'a> Record<'a> {
    /// Parses one record from its JSON bytes.
    pub fn from_slice(json: &'a [u8]) -> Result<Self, serde_json::Error> {
        let mut record: Record<'a> = serde_json::from_slice(json)?;
        record.raw = json;
        Ok(record)
    }

    /// Parses a record the log reader framed, keeping its landmarks.
    pub fn from_raw(raw: &RawRecord<'a>) -> Result<Self, serde_json::Error> {
        let mut record = Self::from_slice(raw.bytes)?;
        record.landmarks = Some(raw.landmarks);
        Ok(record)
    }

    /// `eventSource`, or "" when absent.
    pub fn source(&self) -> &str {
        self.event_source.as_deref().unwrap_or("")
    }

    /// `eventName`, or "" when absent.
    pub fn name(&self) -> &str {
        self.event_name.as_deref().unwrap_or("")
    }

    /// True when CloudTrail recorded the call as failed (`errorCode` or `errorMessage` present).
    pub fn failed(&self) -> bool {
        self.error_code.as_deref().is_some_and(|s| !s.is_empty())
            || self.error_message.as_deref().is_some_and(|s| !s.is_empty())
    }

    /// The account that owns the resource the call acted on: `recipientAccountId`, else the
    /// caller's account (older or hand-made records lack the former).
    pub fn owner_account(&self) -> Option<&str> {
        self.recipient_account_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .or_else(|| self.caller_account())
    }

    /// `userIdentity.accountId`.
    pub fn caller_account(&self) -> Option<&str> {
        self.user_identity
            .as_ref()
            .and_then(|u| u.account_id.as_deref())
            .filter(|s| !s.is_empty())
    }

    /// Parses `requestParameters` into a rule's own typed view: `Ok(None)` when absent or null,
    /// `Err` when present but not of that shape.
    pub fn request_parameters<T: Deserialize<'a>>(&self) -> Result<Option<T>, Unevaluable> {
        parse_raw(self.request_parameters, "requestParameters")
    }

    /// Like [`Record::request_parameters`], but absence is also `Err`: for rules that cannot
    /// decide without them.
    pub fn require_request_parameters<T: Deserialize<'a>>(&self) -> Result<T, Unevaluable> {
        self.request_parameters()?
            .ok_or(Unevaluable::Missing("requestParameters"))
    }

    /// Parses `responseElements` into a rule's own typed view (`Ok(None)` when absent or null).
    pub fn response_elements<T: Deserialize<'a>>(&self) -> Result<Option<T>, Unevaluable> {
        parse_raw(self.response_elements, "responseElements")
    }

    /// Parses `additionalEventData` into a rule's own typed view (`Ok(None)` when absent or null).
    pub fn additional_event_data<T: Deserialize<'a>>(&self) -> Result<Option<T>, Unevaluable> {
        parse_raw(self.additional_event_data, "additionalEventData")
    }

    /// Parses `resources` into a rule's own typed view (`Ok(None)` when absent or null).
    pub fn resources<T: Deserialize<'a>>(&self) -> Result<Option<T>, Unevaluable> {
        parse_raw(self.resources, "resources")
    }

    /// `errorCode` (else `errorMessage`) of a failed call, for summaries.
    pub fn error(&self) -> Option<&str> {
        self.error_code
            .as_deref()
            .filter(|s| !s.is_empty())
            .or_else(|| self.error_message.as_deref().filter(|s| !s.is_empty()))
    }

    /// The whole record as a JSON value, for the alert.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_slice(self.raw).unwrap_or(serde_json::Value::Null)
    }
}

fn parse_raw<'a, T: Deserialize<'a>>(
    raw: Option<&'a RawValue>,
    field: &'static str,
) -> Result<Option<T>, Unevaluable> {
    match raw {
        None => Ok(None),
        Some(raw) if raw.get() == "null" => Ok(None),
        Some(raw) => serde_json::from_str(raw.get())
            .map(Some)
            .map_err(|e| Unevaluable::malformed(field, e)),
    }
}

/// Visitor methods that read any JSON value of the listed kinds as `None`, consuming it.
macro_rules! absent_for {
    (scalars) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    };
}

/// Deserializes a string, borrowing when possible; any other JSON type reads as `None`.
pub fn lenient_str<'de: 'a, 'a, D>(deserializer: D) -> Result<Option<Cow<'a, str>>, D::Error>
where
    D: Deserializer<'de>,
{
    struct StrVisitor<'a>(PhantomData<&'a ()>);
    impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
        type Value = Option<Cow<'a, str>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        absent_for!(scalars);
    }
    deserializer.deserialize_any(StrVisitor(PhantomData))
}

/// Deserializes a boolean, also from `"true"`/`"false"`; anything else reads as `None`.
pub fn lenient_bool<'de, D>(deserializer: D) -> Result<Option<bool>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Bool(b) => Some(b),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    })
}

/// Deserializes an object into `T`; any other JSON type reads as `None`.
pub fn lenient_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ObjectVisitor<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        absent_for!(scalars);
    }
    deserializer.deserialize_any(ObjectVisitor(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_common_fields_and_keeps_parameters_raw() {
        let json = br#"{"eventVersion":"1.09","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy",
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accountId":"111122223333"},
            "recipientAccountId":"111122223333","readOnly":false,"requestParameters":{"bucketName":"b"},
            "somethingNew":{"x":[1,2]}}"#;
        let r = Record::from_slice(json).unwrap();
        assert_eq!(r.source(), "s3.amazonaws.com");
        assert_eq!(r.name(), "PutBucketPolicy");
        assert_eq!(r.owner_account(), Some("111122223333"));
        assert_eq!(r.read_only, Some(false));
        assert_eq!(r.request_parameters.unwrap().get(), r#"{"bucketName":"b"}"#);
        assert!(!r.failed());
    }

    #[test]
    fn tolerates_nulls_missing_fields_and_wrong_types() {
        let json =
            br#"{"eventName":123,"eventSource":null,"userIdentity":"weird","readOnly":"true",
            "errorCode":{"nested":true},"requestParameters":null}"#;
        let r = Record::from_slice(json).unwrap();
        assert_eq!(r.name(), "");
        assert_eq!(r.source(), "");
        assert!(r.user_identity.is_none());
        assert_eq!(r.read_only, Some(true));
        assert!(r.error_code.is_none());
        assert!(r.request_parameters.is_none());
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let r = Record::from_slice(br#"{"userAgent":"a\"b\u00e9"}"#).unwrap();
        assert_eq!(r.user_agent.as_deref(), Some("a\"b\u{e9}"));
    }

    #[test]
    fn an_error_message_alone_marks_the_call_failed() {
        let r = Record::from_slice(br#"{"errorMessage":"denied"}"#).unwrap();
        assert!(r.failed());
        let r = Record::from_slice(br#"{"errorCode":""}"#).unwrap();
        assert!(!r.failed());
    }

    #[test]
    fn owner_falls_back_to_the_caller_account() {
        let r = Record::from_slice(br#"{"userIdentity":{"accountId":"999988887777"}}"#).unwrap();
        assert_eq!(r.owner_account(), Some("999988887777"));
    }
}
