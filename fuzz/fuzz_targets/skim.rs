//! The skim against the full parse on arbitrary record bytes: whenever the skim is sure of a
//! record's eventSource and eventName, the full parse reads the same or refuses the record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch::detector::Record;
use trailwatch::detector::skim::{Skim, skim};

fuzz_target!(|data: &[u8]| {
    if let Skim::Known { source, name } = skim(data)
        && let Ok(record) = Record::from_slice(data)
    {
        assert_eq!((record.source(), record.name()), (source, name));
    }
});
