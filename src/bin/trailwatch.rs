//! `trailwatch`: scan CloudTrail logs locally and list the rules.

fn main() {
    std::process::exit(trailwatch::cli::main());
}
