//! The detector library and the alert formats stay pure: no AWS SDK, no async runtime, no network, no file system,
//! no wall clock. The adapters (`src/lambda`, `src/cli`) own all I/O.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_detector_imports_no_io_or_aws() {
    let mut files = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    rust_files(&root.join("src/detector"), &mut files);
    assert!(files.len() >= 10);
    // The alert renderings (e-mail, chat, ASFF, OCSF) are pure too.
    let before = files.len();
    rust_files(&root.join("src/formats"), &mut files);
    assert!(files.len() >= before + 5);
    let forbidden = [
        "aws_",
        "aws-",
        "tokio",
        "lambda_runtime",
        "std::fs",
        "std::net",
        "SystemTime::now",
        "Instant::now",
        "std::env",
        "std::process",
    ];
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text
            .lines()
            .filter(|l| l.trim_start().starts_with("use ") || l.contains("::now"))
        {
            for word in forbidden {
                assert!(
                    !line.contains(word),
                    "{}: `{}` uses {word}",
                    file.display(),
                    line.trim()
                );
            }
        }
    }
}
