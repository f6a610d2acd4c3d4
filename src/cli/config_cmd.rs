//! `trailwatch config check`.

use super::{EXIT_CLEAN, EXIT_INPUT_ERROR, tuning};
use crate::detector::{Detector, DetectorConfig};
use std::io::{self, Write};
use std::path::Path;

/// Warns about Sigma rules that did not load.
pub(super) fn report_refusals(
    loaded: &tuning::LoadedTuning,
    err: &mut dyn Write,
) -> io::Result<()> {
    if loaded.file.sigma_directory.is_some() {
        writeln!(
            err,
            "trailwatch: {} Sigma rules loaded, {} refused",
            loaded.sigma_rules.rules().len(),
            loaded.refused.len()
        )?;
    }
    for refusal in &loaded.refused {
        writeln!(err, "trailwatch: warning: Sigma rule refused: {refusal}")?;
    }
    Ok(())
}

pub(super) fn check_config(
    file: &Path,
    strict: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let loaded = match tuning::load_file(file) {
        Ok(loaded) => loaded,
        Err(e) => {
            let _ = writeln!(err, "trailwatch: error: {e}");
            return EXIT_INPUT_ERROR;
        }
    };
    let mut config = DetectorConfig::default();
    loaded.apply(&mut config);
    if let Err(e) = Detector::new(&config) {
        let _ = writeln!(err, "trailwatch: error: {}: {e}", file.display());
        return EXIT_INPUT_ERROR;
    }
    if report_refusals(&loaded, err).is_err() {
        return EXIT_INPUT_ERROR;
    }
    let f = &loaded.file;
    let _ = writeln!(
        out,
        "{}: ok: {} trusted accounts, {} trusted organizations, {} disabled rules, {} severity overrides, {} exceptions, {} Sigma rules ({} refused)",
        file.display(),
        f.trusted_accounts.len(),
        f.trusted_organizations.len(),
        f.disabled_rules.len(),
        f.severity_overrides.len(),
        f.exceptions.len(),
        loaded.sigma_rules.rules().len(),
        loaded.refused.len(),
    );
    if !loaded.sigma_rules.correlations().is_empty() {
        let _ = writeln!(
            out,
            "{} Sigma correlations",
            loaded.sigma_rules.correlations().len()
        );
    }
    // The cost of a Sigma rule is the records it reads in full: name the broad ones.
    for rule in loaded.sigma_rules.rules() {
        let broad = rule.route.as_ref().is_none_or(|gates| {
            gates
                .iter()
                .any(|g| !matches!(g, crate::detector::sigma::Gate::Event(_)))
        });
        if broad {
            let _ = writeln!(
                out,
                "note: {} {:?} reads {}",
                rule.rule_id,
                rule.title,
                rule.reads()
            );
        }
    }
    if strict && !loaded.refused.is_empty() {
        EXIT_INPUT_ERROR
    } else {
        EXIT_CLEAN
    }
}
