//! `trailwatch rules`: the catalogue, and `rules test` for Sigma rules against their examples.

use super::{EXIT_ALERTS, EXIT_CLEAN, EXIT_INPUT_ERROR, RulesFormat, tuning};
use crate::detector::{Detector, DetectorConfig};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub(super) fn list_rules(
    format: RulesFormat,
    config: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let detector = Detector::new(&DetectorConfig::default()).expect("default config is valid");
    let metas: Vec<_> = detector.rules().collect();
    let sigma = match config.map(tuning::load_file).transpose() {
        Ok(loaded) => loaded.map(|l| l.sigma_rules).unwrap_or_default(),
        Err(e) => {
            let _ = writeln!(err, "trailwatch: error: {e}");
            return EXIT_INPUT_ERROR;
        }
    };
    let written = match format {
        RulesFormat::Json => {
            let sigma: Vec<serde_json::Value> = sigma
                .rules()
                .iter()
                .map(|r| {
                    serde_json::json!({"id": r.rule_id, "title": r.title, "severity": r.severity,
                        "risk_score": r.risk_score, "references": r.references,
                        "false_positives": r.false_positives, "origin": r.origin,
                        "runs_on_every_record": r.runs_on_every_record(), "reads": r.reads(),
                        "alerts_alone": r.alerts_alone})
                })
                .collect();
            let mut all: Vec<serde_json::Value> = metas
                .iter()
                .map(|m| serde_json::to_value(m).unwrap_or_default())
                .collect();
            all.extend(sigma);
            serde_json::to_writer_pretty(&mut *out, &all)
                .map_err(io::Error::other)
                .and_then(|()| writeln!(out))
        }
        RulesFormat::Text => metas.iter().try_for_each(|m| {
            let attack: Vec<String> = m
                .mitre_attack
                .iter()
                .map(|a| format!("{} {} / {}", a.technique_id, a.technique_name, a.tactic_id))
                .collect();
            writeln!(
                out,
                "{id}\n  {title}\n  severity {sev}, risk {risk}, dedup {dedup} min\n  ATT&CK: {attack}\n  implements: {vendor} \"{name}\" ({sid})\n",
                id = m.id,
                title = m.title,
                sev = m.severity,
                risk = m.risk_score,
                dedup = m.dedup_period_minutes,
                attack = attack.join("; "),
                vendor = m.implements.vendor,
                name = m.implements.name,
                sid = m.implements.id,
            )
        })
        .and_then(|()| {
            sigma.rules().iter().try_for_each(|r| {
                writeln!(
                    out,
                    "{id}\n  {title}\n  severity {sev}, risk {risk}, dedup {dedup} min\n  Sigma rule from {origin}; reads {reads}{every}\n",
                    id = r.rule_id,
                    title = r.title,
                    sev = r.severity,
                    risk = r.risk_score,
                    dedup = r.dedup_period_minutes,
                    origin = r.origin,
                    reads = r.reads(),
                    every = if r.alerts_alone {
                        ""
                    } else {
                        " (counted by correlations only)"
                    },
                )
            })
        })
        .and_then(|()| {
            sigma.correlations().iter().try_for_each(|c| {
                writeln!(
                    out,
                    "{id}\n  {title}\n  severity {sev}, risk {risk}\n  Sigma correlation from {origin}: {threshold} distinct {counts} within {timespan} s\n",
                    id = c.rule_id,
                    title = c.title,
                    sev = c.severity,
                    risk = c.risk_score,
                    origin = c.origin,
                    threshold = c.threshold,
                    counts = c.counts(),
                    timespan = c.timespan_secs,
                )
            })
        }),
    };
    match written {
        Ok(()) => EXIT_CLEAN,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_CLEAN,
        Err(e) => {
            let _ = writeln!(err, "trailwatch: error: {e}");
            EXIT_INPUT_ERROR
        }
    }
}

/// Example records for one Sigma rule file: `<rule>.test.yml` beside it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleExamples {
    /// CloudTrail records the rule must match.
    #[serde(default, rename = "match")]
    must_match: Vec<serde_json::Value>,
    /// CloudTrail records it must not match.
    #[serde(default)]
    no_match: Vec<serde_json::Value>,
}

fn examples_path(rule: &Path) -> PathBuf {
    let name = rule
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(".yml")
        .or_else(|| name.strip_suffix(".yaml"))
        .unwrap_or(&name);
    rule.with_file_name(format!("{stem}.test.yml"))
}

pub(super) fn test_rules(path: &Path, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let sources = if path.is_dir() {
        tuning::read_sigma_dir(path)
    } else {
        std::fs::read_to_string(path).map(|t| vec![(path.display().to_string(), t)])
    };
    let sources = match sources {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(err, "trailwatch: error: {}: {e}", path.display());
            return EXIT_INPUT_ERROR;
        }
    };
    let mut failures = 0;
    let mut passed = 0;
    // Loaded together: a correlation may reference rules from other files.
    let all = crate::detector::sigma::load(
        &sources,
        crate::detector::sigma::DEFAULT_DEDUP_PERIOD_MINUTES,
        |_| false,
    );
    for (origin, _) in &sources {
        let rules: Vec<&crate::detector::sigma::SigmaRule> = all
            .rules
            .rules()
            .iter()
            .filter(|r| &r.origin == origin)
            .collect();
        for refusal in all.refused.iter().filter(|r| &r.origin == origin) {
            failures += 1;
            let _ = writeln!(out, "FAIL {refusal}");
        }
        for correlation in all
            .rules
            .correlations()
            .iter()
            .filter(|c| &c.origin == origin)
        {
            let _ = writeln!(
                out,
                "load {} {:?}: correlation, counts {} (no record examples)",
                correlation.rule_id,
                correlation.title,
                correlation.counts()
            );
        }
        let side = examples_path(Path::new(origin));
        let examples: RuleExamples = match std::fs::read_to_string(&side) {
            Ok(t) => match yaml_serde::from_str(&t) {
                Ok(e) => e,
                Err(e) => {
                    failures += 1;
                    let _ = writeln!(out, "FAIL {}: {e}", side.display());
                    continue;
                }
            },
            Err(e) => {
                failures += rules.len();
                for rule in &rules {
                    let _ = writeln!(
                        out,
                        "FAIL {} ({origin}): no examples: {}: {e}",
                        rule.rule_id,
                        side.display()
                    );
                }
                continue;
            }
        };
        for rule in rules {
            let mut misses = Vec::new();
            if examples.must_match.is_empty() {
                misses.push("the examples file has no `match` record".to_owned());
            }
            for (i, record) in examples.must_match.iter().enumerate() {
                if !rule.matches(record) {
                    misses.push(format!("match[{i}] did not match"));
                }
            }
            for (i, record) in examples.no_match.iter().enumerate() {
                if rule.matches(record) {
                    misses.push(format!("no_match[{i}] matched"));
                }
            }
            if misses.is_empty() {
                passed += 1;
                let _ = writeln!(
                    out,
                    "ok   {} {:?}: {} match, {} no_match",
                    rule.rule_id,
                    rule.title,
                    examples.must_match.len(),
                    examples.no_match.len()
                );
            } else {
                failures += 1;
                let _ = writeln!(
                    out,
                    "FAIL {} ({origin}): {}",
                    rule.rule_id,
                    misses.join("; ")
                );
            }
        }
    }
    let _ = writeln!(out, "{passed} passed, {failures} failed");
    if failures > 0 {
        EXIT_ALERTS
    } else {
        EXIT_CLEAN
    }
}
