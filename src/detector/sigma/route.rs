//! Routing: the gates (event pairs, caller types, texts) a rule's detection implies, so the
//! engine asks a rule only about records it could match.

use super::text::{TextGate, text_gates};
use super::{Gate, NameSelector, SigmaSelector};
use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Modifier, Quantifier, SelectorPattern,
    SigmaRule as ParsedRule, SigmaValue, SpecialChar, StringPart, detection_name_matches,
};

/// The gates a rule's conditions imply, or `None` when they imply none (every record).
/// Over-approximates: every record the rule matches passes one of the gates.
pub(super) fn condition_route(rule: &ParsedRule) -> Option<Vec<Gate>> {
    let mut all = Vec::new();
    for condition in &rule.detection.conditions {
        all.extend(expr_route(condition, rule)?);
    }
    (!all.is_empty()).then_some(all)
}

/// How cheap a route is to apply, lower first: event pairs (the index), then caller types
/// (known from the skim), then text (a byte search); fewer gates first within a kind.
fn route_cost(gates: &[Gate]) -> (u8, usize) {
    let kind = gates
        .iter()
        .map(|g| match g {
            Gate::Event(_) => 0,
            Gate::IdentityType(_) => 1,
            Gate::Text(_) => 2,
        })
        .max()
        .unwrap_or(0);
    (kind, gates.len())
}

fn expr_route(expr: &ConditionExpr, rule: &ParsedRule) -> Option<Vec<Gate>> {
    match expr {
        ConditionExpr::Identifier(name) => detection_route(rule.detection.named.get(name)?),
        // Any constrained operand bounds the conjunction: take the cheapest.
        ConditionExpr::And(parts) => parts
            .iter()
            .filter_map(|p| expr_route(p, rule))
            .min_by_key(|g| route_cost(g)),
        ConditionExpr::Or(parts) => union(parts.iter().map(|p| expr_route(p, rule))),
        ConditionExpr::Not(_) => None,
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let named = rule
                .detection
                .named
                .iter()
                .filter(|(name, _)| match pattern {
                    SelectorPattern::Them => !name.starts_with('_'),
                    SelectorPattern::Pattern(p) => detection_name_matches(p, name),
                });
            match quantifier {
                Quantifier::All => named
                    .filter_map(|(_, d)| detection_route(d))
                    .min_by_key(|g| route_cost(g)),
                Quantifier::Any | Quantifier::Count(1..) => {
                    union(named.map(|(_, d)| detection_route(d)))
                }
                Quantifier::Count(0) => None,
            }
        }
    }
}

fn union(parts: impl Iterator<Item = Option<Vec<Gate>>>) -> Option<Vec<Gate>> {
    let mut all = Vec::new();
    for part in parts {
        all.extend(part?);
    }
    (!all.is_empty()).then_some(all)
}

fn detection_route(detection: &Detection) -> Option<Vec<Gate>> {
    match detection {
        Detection::AllOf(items) => event_gates(items)
            .or_else(|| identity_gates(items))
            .or_else(|| text_gates(items)),
        Detection::AnyOf(parts) => union(parts.iter().map(detection_route)),
        _ => None,
    }
}

/// Caller types a single condition `... and not <filter>` rules out, where the filter is one
/// `userIdentity.type` item of exact values (SigmaHQ f305fd62, bucket enumeration, filters out
/// `AssumedRole`). Anything else excludes nothing.
pub(super) fn excluded_caller_types(rule: &ParsedRule) -> Vec<String> {
    let [ConditionExpr::And(parts)] = rule.detection.conditions.as_slice() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for part in parts {
        let ConditionExpr::Not(inner) = part else {
            continue;
        };
        let ConditionExpr::Identifier(name) = inner.as_ref() else {
            continue;
        };
        if let Some(Detection::AllOf(items)) = rule.detection.named.get(name)
            && items.len() == 1
            && let Some(values) = field_values(items, "userIdentity.type")
        {
            out.extend(values.into_iter().filter_map(|v| match v {
                NameSelector::Exact(kind) => Some(kind),
                NameSelector::Prefix(_) => None,
            }));
        }
    }
    out
}

/// The fields that say only what kind of caller made a call.
const CALLER_TYPE_FIELDS: [&str; 2] = [
    "userIdentity.type",
    "userIdentity.sessionContext.sessionIssuer.type",
];

/// True when every item of every detection the rule names tests only a caller-type field
/// ([`CALLER_TYPE_FIELDS`]): nothing about the event, its error, parameters or text, so the
/// rule matches every call those callers make. Keywords and array blocks constrain more.
pub(super) fn constrains_only_caller_type(rule: &ParsedRule) -> bool {
    fn only_caller_type(detection: &Detection) -> bool {
        match detection {
            Detection::AllOf(items) => items.iter().all(|item| {
                item.field
                    .name
                    .as_deref()
                    .is_some_and(|name| CALLER_TYPE_FIELDS.contains(&name))
            }),
            Detection::AnyOf(parts) => parts.iter().all(only_caller_type),
            _ => false,
        }
    }
    !rule.detection.named.is_empty() && rule.detection.named.values().all(only_caller_type)
}

/// Texts every match of the rule holds one of (see [`SigmaRule::requires_text`]), or `None`.
pub(super) fn condition_texts(rule: &ParsedRule) -> Option<Vec<TextGate>> {
    let mut all = Vec::new();
    for condition in &rule.detection.conditions {
        all.extend(expr_texts(condition, rule)?);
    }
    (!all.is_empty()).then_some(all)
}

fn expr_texts(expr: &ConditionExpr, rule: &ParsedRule) -> Option<Vec<TextGate>> {
    let best = |options: Vec<Vec<TextGate>>| {
        options
            .into_iter()
            .max_by_key(|t| t.iter().map(|g| g.text.len()).min().unwrap_or(0))
    };
    let union = |parts: Vec<Option<Vec<TextGate>>>| {
        let mut all = Vec::new();
        for part in parts {
            all.extend(part?);
        }
        (!all.is_empty()).then_some(all)
    };
    match expr {
        ConditionExpr::Identifier(name) => detection_texts(rule.detection.named.get(name)?),
        ConditionExpr::And(parts) => {
            best(parts.iter().filter_map(|p| expr_texts(p, rule)).collect())
        }
        ConditionExpr::Or(parts) => union(parts.iter().map(|p| expr_texts(p, rule)).collect()),
        ConditionExpr::Not(_) => None,
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let named: Vec<&Detection> = rule
                .detection
                .named
                .iter()
                .filter(|(name, _)| match pattern {
                    SelectorPattern::Them => !name.starts_with('_'),
                    SelectorPattern::Pattern(p) => detection_name_matches(p, name),
                })
                .map(|(_, d)| d)
                .collect();
            match quantifier {
                Quantifier::All => best(named.into_iter().filter_map(detection_texts).collect()),
                Quantifier::Any | Quantifier::Count(1..) => {
                    union(named.into_iter().map(detection_texts).collect())
                }
                Quantifier::Count(0) => None,
            }
        }
    }
}

/// Texts one selection requires, leaving out `eventSource`/`eventName` (the index has them).
fn detection_texts(detection: &Detection) -> Option<Vec<TextGate>> {
    match detection {
        Detection::AllOf(items) => {
            let rest: Vec<DetectionItem> = items
                .iter()
                .filter(|i| !matches!(i.field.name.as_deref(), Some("eventSource" | "eventName")))
                .cloned()
                .collect();
            text_gates(&rest).map(|gates| {
                gates
                    .into_iter()
                    .filter_map(|g| match g {
                        Gate::Text(t) => Some(t),
                        _ => None,
                    })
                    .collect()
            })
        }
        Detection::AnyOf(parts) => {
            let mut all = Vec::new();
            for part in parts {
                all.extend(detection_texts(part)?);
            }
            (!all.is_empty()).then_some(all)
        }
        _ => None,
    }
}

/// `eventSource`/`eventName` pins of one selection, as event gates.
fn event_gates(items: &[DetectionItem]) -> Option<Vec<Gate>> {
    let sources = field_values(items, "eventSource").and_then(|names| {
        names
            .into_iter()
            .map(|n| match n {
                NameSelector::Exact(s) => Some(s),
                NameSelector::Prefix(_) => None,
            })
            .collect::<Option<Vec<String>>>()
    });
    let names = field_values(items, "eventName");
    let selectors: Vec<SigmaSelector> = match (sources, names) {
        (None, None) => return None,
        (Some(sources), None) => sources
            .into_iter()
            .map(|s| SigmaSelector {
                source: Some(s),
                name: None,
            })
            .collect(),
        (sources, Some(names)) => {
            let sources: Vec<Option<String>> = match sources {
                Some(s) => s.into_iter().map(Some).collect(),
                None => vec![None],
            };
            sources
                .iter()
                .flat_map(|s| {
                    names.iter().map(move |n| SigmaSelector {
                        source: s.clone(),
                        name: Some(n.clone()),
                    })
                })
                .collect()
        }
    };
    Some(selectors.into_iter().map(Gate::Event).collect())
}

/// A `userIdentity.type` pin of one selection (exact values only), as caller-type gates.
fn identity_gates(items: &[DetectionItem]) -> Option<Vec<Gate>> {
    field_values(items, "userIdentity.type")?
        .into_iter()
        .map(|v| match v {
            NameSelector::Exact(kind) => Some(Gate::IdentityType(kind)),
            NameSelector::Prefix(_) => None,
        })
        .collect()
}

/// The values one field is pinned to by a plain or `startswith` item, if any.
fn field_values(items: &[DetectionItem], field: &str) -> Option<Vec<NameSelector>> {
    items.iter().find_map(|item| {
        if item.field.name.as_deref() != Some(field) {
            return None;
        }
        let prefix_only = match item.field.modifiers.as_slice() {
            [] | [Modifier::Cased] => false,
            [Modifier::StartsWith] => true,
            _ => return None,
        };
        item.values
            .iter()
            .map(|v| match v {
                SigmaValue::String(s) => match s.parts.as_slice() {
                    [StringPart::Plain(p)] if prefix_only => Some(NameSelector::Prefix(p.clone())),
                    [StringPart::Plain(p)] => Some(NameSelector::Exact(p.clone())),
                    [
                        StringPart::Plain(p),
                        StringPart::Special(SpecialChar::WildcardMulti),
                    ] => Some(NameSelector::Prefix(p.clone())),
                    _ => None,
                },
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .filter(|v| !v.is_empty())
    })
}
