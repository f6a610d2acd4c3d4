//! The skim against the full parse on arbitrary record bytes: whenever the skim is sure of a
//! record's eventSource and eventName, the full parse reads the same or refuses the record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch::detector::Record;
use trailwatch::detector::skim::{Skim, skim};

fuzz_target!(|data: &[u8]| {
    if let Skim::Known {
                source,
                name,
                identity_type,
            } = skim(data)
        && let Ok(record) = Record::from_slice(data)
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
});
