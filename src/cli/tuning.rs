//! Reading the tuning file and the Sigma directory it names from local disk. The parsing and
//! validation are the detector library's; this only does the I/O, for the CLI and for a file
//! bundled with the Lambda function.

use crate::detector::DetectorConfig;
use crate::detector::config_file::{ConfigFileError, TuningFile};
use crate::detector::rules::CATALOGUE;
use crate::detector::sigma::{self, DEFAULT_DEDUP_PERIOD_MINUTES, Refusal, SigmaRules};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A tuning file with its Sigma rules loaded.
#[derive(Debug, Clone)]
pub struct LoadedTuning {
    pub file: TuningFile,
    pub sigma_rules: SigmaRules,
    /// Sigma rules that did not load, with the reason.
    pub refused: Vec<Refusal>,
    /// Sigma rule files read (each may hold several documents).
    pub sigma_files: usize,
}

impl LoadedTuning {
    /// Writes everything into a detector configuration (flags and environment variables are
    /// applied after, and win).
    pub fn apply(&self, config: &mut DetectorConfig) {
        self.file.apply(config);
        config.sigma_rules = self.sigma_rules.clone();
    }
}

/// Why a tuning file could not be used; the message names the file and the line.
#[derive(Debug)]
pub enum TuningError {
    Read(PathBuf, io::Error),
    Invalid(String, ConfigFileError),
}

impl fmt::Display for TuningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TuningError::Read(path, e) => write!(f, "{}: {e}", path.display()),
            TuningError::Invalid(origin, e) => write!(f, "{origin}: {e}"),
        }
    }
}

impl std::error::Error for TuningError {}

/// Reads and validates the tuning file at `path`, and the Sigma directory it names (relative
/// to the file's own directory).
pub fn load_file(path: &Path) -> Result<LoadedTuning, TuningError> {
    let text = std::fs::read_to_string(path).map_err(|e| TuningError::Read(path.to_owned(), e))?;
    load_text(&text, &path.display().to_string(), path.parent())
}

/// Validates tuning-file text from `origin`; a relative Sigma directory is resolved against
/// `base` (the current directory when `None`).
pub fn load_text(
    text: &str,
    origin: &str,
    base: Option<&Path>,
) -> Result<LoadedTuning, TuningError> {
    let invalid = |e| TuningError::Invalid(origin.to_owned(), e);
    let file = TuningFile::parse(text).map_err(invalid)?;
    let (sources, sigma_files) = match &file.sigma_directory {
        Some(dir) => {
            let dir = base.unwrap_or(Path::new("")).join(dir);
            let sources = read_sigma_dir(&dir).map_err(|e| TuningError::Read(dir.clone(), e))?;
            let n = sources.len();
            (sources, n)
        }
        None => (Vec::new(), 0),
    };
    let options = sigma::LoadOptions {
        dedup_period_minutes: file
            .sigma_dedup_period_minutes
            .unwrap_or(DEFAULT_DEDUP_PERIOD_MINUTES),
        allow_caller_type_only: file.sigma_allow_caller_type_only,
    };
    let loaded = sigma::load_with(&sources, &options, |id| {
        CATALOGUE.iter().any(|r| r.meta().id == id)
    });
    file.check_rule_ids(|id| {
        CATALOGUE.iter().any(|r| r.meta().id == id)
            || loaded.rules.rules().iter().any(|r| r.rule_id == id)
    })
    .map_err(invalid)?;
    Ok(LoadedTuning {
        file,
        sigma_rules: loaded.rules,
        refused: loaded.refused,
        sigma_files,
    })
}

/// True for a Sigma rule file; `*.test.yml` example files beside the rules are not rules.
pub fn is_sigma_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (name.ends_with(".yml") || name.ends_with(".yaml"))
        && !name.ends_with(".test.yml")
        && !name.ends_with(".test.yaml")
}

/// The `*.yml`/`*.yaml` rule files under `dir` (recursively, sorted) as (path, text).
pub fn read_sigma_dir(dir: &Path) -> io::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else if is_sigma_file(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p)?;
            Ok((p.display().to_string(), text))
        })
        .collect()
}
