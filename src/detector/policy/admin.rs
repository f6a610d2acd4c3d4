//! Identity policies that grant full administrator rights.

use super::{PolicyError, get_ci, strings};
use serde::Serialize;
use serde_json::Value;

/// An identity or session policy statement that allows every action on every resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminGrant {
    /// `Sid`, or `#N` (its position) when the statement has none.
    pub sid: String,
    /// Condition operators on the statement (empty when it is unconditional).
    pub conditions: Vec<String>,
}

/// The `Allow` statements of an identity (or session) policy whose `Action` includes `*` or
/// `*:*` and whose `Resource` includes `*`: full administrator rights, the shape of the managed
/// `AdministratorAccess` policy. `NotAction`/`NotResource` statements are not counted: they
/// grant "all but" and need judgement, not a yes/no.
pub fn full_admin_grants(policy: &Value) -> Result<Vec<AdminGrant>, PolicyError> {
    let parsed;
    let doc = match policy {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text).map_err(|_| PolicyError::NotJson)?;
            &parsed
        }
        other => other,
    };
    let doc = doc.as_object().ok_or(PolicyError::NotAnObject)?;
    let statements: Vec<&Value> = match get_ci(doc, "Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    let mut grants = Vec::new();
    for (index, statement) in statements.into_iter().enumerate() {
        let Some(statement) = statement.as_object() else {
            continue;
        };
        let allows = get_ci(statement, "Effect")
            .and_then(Value::as_str)
            .is_some_and(|e| e.trim().eq_ignore_ascii_case("allow"));
        let every_action = get_ci(statement, "Action")
            .is_some_and(|a| strings(a).iter().any(|a| matches!(a.trim(), "*" | "*:*")));
        let every_resource = get_ci(statement, "Resource")
            .is_some_and(|r| strings(r).iter().any(|r| r.trim() == "*"));
        if !(allows && every_action && every_resource) {
            continue;
        }
        let conditions = get_ci(statement, "Condition")
            .and_then(Value::as_object)
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        grants.push(AdminGrant {
            sid: get_ci(statement, "Sid")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map_or_else(|| format!("#{index}"), str::to_owned),
            conditions,
        });
    }
    Ok(grants)
}
