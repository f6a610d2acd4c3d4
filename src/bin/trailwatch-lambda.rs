//! `trailwatch-lambda`: the AWS Lambda entry point (being built; see issue 3).

fn main() {
    eprintln!("trailwatch-lambda is not built yet");
    std::process::exit(1);
}
