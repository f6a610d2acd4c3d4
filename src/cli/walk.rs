//! Turning path arguments into the files to scan, and printing paths safely.

use crate::detector::keys::{KeyKind, classify_key};
use crate::detector::text::clean;
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

/// A path as printed on stderr: control, bidi and invisible characters escaped, so a file
/// name cannot forge a line or a terminal sequence.
pub(super) fn shown(path: &Path) -> String {
    clean(&path.display().to_string(), 4096)
}

/// An error message as printed on stderr (it may quote a path or the input).
pub(super) fn shown_text(e: &dyn std::fmt::Display) -> String {
    clean(&e.to_string(), 4096)
}

/// What a path argument expands to.
#[derive(Debug, Default)]
pub(super) struct Walked {
    /// Files to scan, each with whether it was named on the command line.
    pub files: Vec<(PathBuf, bool)>,
    /// Subdirectories that could not be read: errors (exit 2); the rest is still scanned.
    pub problems: Vec<String>,
    /// Entries left out on purpose (FIFOs, sockets, devices; directories already walked).
    pub warnings: Vec<String>,
}

/// Turns a path argument into the files to scan: a file as given (a pipe too), a directory's
/// log files recursively (sorted, digests and non-log files left out, symbolic links to
/// directories followed once each), or `-`. `Err` only when the argument itself cannot be read.
pub(super) fn expand(path: &Path) -> io::Result<Walked> {
    let mut walked = Walked::default();
    if path == Path::new("-") || !path.is_dir() {
        if path != Path::new("-") {
            // Surface "no such file" here rather than as a silent skip.
            std::fs::metadata(path)?;
        }
        walked.files.push((path.to_owned(), true));
        return Ok(walked);
    }
    std::fs::read_dir(path)?;
    let mut visited: HashSet<PathBuf> = HashSet::new();
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        // Canonical paths catch symbolic-link loops and two links to one directory.
        let canonical = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        if !visited.insert(canonical) {
            walked.warnings.push(format!(
                "{}: directory already scanned (symbolic link loop or second link); skipped",
                shown(&dir)
            ));
            continue;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                walked
                    .problems
                    .push(format!("{}: {}", shown(&dir), shown_text(&e)));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    walked
                        .problems
                        .push(format!("{}: {}", shown(&dir), shown_text(&e)));
                    continue;
                }
            };
            let p = entry.path();
            // Follows symbolic links: a link to a directory is walked, to a file is read.
            let file_type = match std::fs::metadata(&p) {
                Ok(m) => m.file_type(),
                Err(e) => {
                    walked
                        .warnings
                        .push(format!("{}: {}; skipped", shown(&p), shown_text(&e)));
                    continue;
                }
            };
            if file_type.is_dir() {
                stack.push(p);
            } else if !file_type.is_file() {
                if is_log_file(&p) {
                    walked.warnings.push(format!(
                        "{}: not a regular file (FIFO, socket or device); skipped",
                        shown(&p)
                    ));
                }
            } else if is_log_file(&p) {
                walked.files.push((p, false));
            }
        }
    }
    walked.files.sort();
    Ok(walked)
}

pub(super) fn is_log_file(path: &Path) -> bool {
    let text = path.to_string_lossy().replace('\\', "/");
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let is_json = name.ends_with(".json") || name.ends_with(".json.gz");
    is_json && !matches!(classify_key(&text), KeyKind::Digest | KeyKind::Insight)
}
