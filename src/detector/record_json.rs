//! The CloudTrail record an alert carries, kept as the JSON text it was read from.
//!
//! Building a JSON tree of the record cost more than the rest of the alert together (about
//! 40,000 instructions for a typical record; a rule pack that alerts on every `ListBuckets`
//! spent most of its time there), and most alerts are only serialized once. So the text is
//! kept and written out as it is; the tree is built only when something reads a member
//! (truncating for a transport, tests) or changes one.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;
use std::sync::OnceLock;

/// A record's JSON: its original text when that can be written out as is, and its value,
/// parsed on first use.
#[derive(Clone, Default)]
pub struct RecordJson {
    /// The record's text, when valid UTF-8 on one line (it is embedded in line-per-alert
    /// output); `None` once the value was built another way or changed.
    text: Option<Box<RawValue>>,
    value: OnceLock<Value>,
}

impl RecordJson {
    /// The JSON of a record read from a log (`bytes` parsed as a record, so valid JSON). Text
    /// that is not UTF-8 or spans lines is parsed now, as a value (`null` if it does not parse).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let one_line = memchr::memchr2(b'\n', b'\r', bytes).is_none();
        let text = one_line
            .then(|| std::str::from_utf8(bytes).ok())
            .flatten()
            .and_then(|text| RawValue::from_string(text.to_owned()).ok());
        match text {
            Some(text) => RecordJson {
                text: Some(text),
                value: OnceLock::new(),
            },
            None => serde_json::from_slice(bytes).unwrap_or(Value::Null).into(),
        }
    }

    /// The record as a JSON value (parsed from the text on first use).
    pub fn value(&self) -> &Value {
        self.value.get_or_init(|| match &self.text {
            Some(text) => serde_json::from_str(text.get()).unwrap_or(Value::Null),
            None => Value::Null,
        })
    }

    /// The record as a JSON value to change; the original text is dropped.
    pub fn value_mut(&mut self) -> &mut Value {
        self.value();
        self.text = None;
        self.value.get_mut().expect("just initialised")
    }

    /// The member `key` of the record, if it is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.value().get(key)
    }
}

impl From<Value> for RecordJson {
    fn from(value: Value) -> Self {
        RecordJson {
            text: None,
            value: OnceLock::from(value),
        }
    }
}

impl std::ops::Index<&str> for RecordJson {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.value()[key]
    }
}

impl std::ops::IndexMut<&str> for RecordJson {
    fn index_mut(&mut self, key: &str) -> &mut Value {
        &mut self.value_mut()[key]
    }
}

impl PartialEq for RecordJson {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
    }
}

impl std::fmt::Debug for RecordJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.text {
            Some(text) => write!(f, "{}", text.get()),
            None => write!(f, "{:?}", self.value()),
        }
    }
}

impl Serialize for RecordJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.text {
            Some(text) => text.serialize(serializer),
            None => self.value().serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for RecordJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(RecordJson::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_text_is_written_as_read_and_parsed_only_when_read() {
        let bytes = br#"{"eventID":"e","n":1.50,"s":"caf\u00e9"}"#;
        let record = RecordJson::from_bytes(bytes);
        assert!(record.value.get().is_none());
        assert_eq!(
            serde_json::to_string(&json!({ "record": record })).unwrap(),
            r#"{"record":{"eventID":"e","n":1.5,"s":"café"}}"#
        );
        assert_eq!(
            serde_json::to_string(&record).unwrap(),
            String::from_utf8_lossy(bytes)
        );
        assert!(record.value.get().is_none());
        assert_eq!(record["eventID"], "e");
        assert_eq!(record.get("n"), Some(&json!(1.5)));
        assert_eq!(
            record,
            RecordJson::from(json!({"eventID":"e","n":1.5,"s":"café"}))
        );
    }

    #[test]
    fn text_over_several_lines_or_not_utf8_is_written_as_a_value() {
        let pretty = b"{\n  \"eventID\": \"e\"\n}";
        let record = RecordJson::from_bytes(pretty);
        assert_eq!(
            serde_json::to_string(&record).unwrap(),
            r#"{"eventID":"e"}"#
        );
        // Not UTF-8 (inside a string no rule read): kept as null, as a value would be.
        let record = RecordJson::from_bytes(b"{\"a\":\"\xff\"}");
        assert_eq!(serde_json::to_string(&record).unwrap(), "null");
    }

    #[test]
    fn a_change_drops_the_text() {
        let mut record = RecordJson::from_bytes(br#"{"eventID":"e","requestParameters":{}}"#);
        record["requestParameters"] = json!({"policy": "p"});
        assert_eq!(
            serde_json::to_string(&record).unwrap(),
            r#"{"eventID":"e","requestParameters":{"policy":"p"}}"#
        );
        let back: RecordJson = serde_json::from_str(r#"{"eventID":"x"}"#).unwrap();
        assert_eq!(back["eventID"], "x");
    }
}
