//! The skim against the full parse on arbitrary record bytes: whenever the skim is sure of a
//! record's eventSource and eventName, the full parse reads the same or refuses the record.
//! Checked twice: on the bytes alone, and as the scan does it, on the record the reader frames
//! out of `{"Records":[<bytes>]}` with the landmarks framing found (which on valid JSON must
//! never change the answer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch::detector::skim::{Skim, skim};
use trailwatch::detector::{LogReader, ReaderConfig, Record};

fn check(bytes: &[u8], found: Skim<'_>) {
    if let Skim::Known {
        source,
        name,
        identity_type,
    } = found
        && let Ok(record) = Record::from_slice(bytes)
    {
        let parsed_type = record
            .user_identity
            .as_ref()
            .and_then(|u| u.identity_type.as_deref());
        assert_eq!(
            (record.source(), record.name(), parsed_type),
            (source, name, identity_type)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    check(data, skim(data));
    let mut log = b"{\"Records\":[".to_vec();
    log.extend_from_slice(data);
    log.extend_from_slice(b"]}");
    if let Ok(mut reader) = LogReader::open(&log[..], ReaderConfig::default())
        && let Ok(Some(raw)) = reader.next_record()
    {
        let framed = raw.skim();
        if serde_json::from_slice::<serde_json::Value>(raw.bytes).is_ok() {
            assert_eq!(framed, skim(raw.bytes));
        }
        check(raw.bytes, framed);
    }
});
