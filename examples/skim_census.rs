//! Which records of a log the default rules want, by event (a profiling aid for `make bench`).
//! Run: `cargo run --no-default-features --example skim_census -- LOG`.
use std::collections::BTreeMap;
use trailwatch::detector::skim::Skim;
use trailwatch::detector::{Detector, DetectorConfig, LogReader, ReaderConfig};

fn main() {
    let path = std::env::args().nth(1).expect("usage: skim_census LOG");
    let detector = Detector::new(&DetectorConfig::default()).unwrap();
    let file = std::fs::File::open(path).unwrap();
    let mut reader = LogReader::open(file, ReaderConfig::default()).unwrap();
    let mut census: BTreeMap<(String, bool), u64> = BTreeMap::new();
    while let Some(raw) = reader.next_record().unwrap() {
        let key = match raw.skim() {
            Skim::Known {
                source,
                name,
                identity_type,
            } => (
                format!("{source} {name} {identity_type:?}"),
                detector.wants_event(source, name, identity_type),
            ),
            Skim::Unknown => ("(unsure)".into(), true),
        };
        *census.entry(key).or_default() += 1;
    }
    for ((event, wanted), count) in census {
        println!(
            "{count:>8} {} {event}",
            if wanted { "PARSED " } else { "skimmed" }
        );
    }
}
