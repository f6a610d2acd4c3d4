//! Writes a deterministic, realistic gzipped CloudTrail log for benchmarks and memory checks.
//! `cargo run --release --no-default-features --example gen_cloudtrail -- OUT.json.gz SIZE_MB [SEED]`

#[path = "../benches/synth/mod.rs"]
mod synth;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gen_cloudtrail OUT.json.gz SIZE_MB [SEED]");
        std::process::exit(2);
    }
    let size_mb: u64 = args[2].parse().expect("SIZE_MB is a number");
    let seed: u64 = args
        .get(3)
        .map_or(42, |s| s.parse().expect("SEED is a number"));
    let out = std::io::BufWriter::new(std::fs::File::create(&args[1]).expect("create output"));
    let planted = synth::generate(out, size_mb << 20, seed, 10_000).expect("write log");
    println!(
        "{} records, {} bytes decompressed, {} triggers, {} expected alerts",
        planted.records, planted.decompressed_bytes, planted.triggers, planted.expected_alerts
    );
}
