//! Laying upstream changes over a partner's own: per module (top-level
//! field), never per record. A module the partner has not touched since
//! the last upstream revision takes upstream's new value; a module it
//! changed (an override, or a module of its own) is kept; when upstream
//! changed an overridden module too, the partner's value is kept and the
//! module is in conflict until someone decides.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// A module both sides changed differently.
#[derive(Clone, Debug, PartialEq)]
pub struct ModuleConflict {
    pub module: String,
    pub base: Option<Value>,
    pub upstream: Option<Value>,
    pub local: Option<Value>,
}

#[derive(Debug, PartialEq)]
pub struct Merged {
    pub document: Value,
    pub conflicts: Vec<ModuleConflict>,
}

/// `base` is the upstream document last received, `local` the partner's
/// newest revision, `upstream` the new upstream document.
pub fn merge(base: &Value, local: &Value, upstream: &Value) -> Merged {
    let empty = Map::new();
    let fields = |document: &Value| document.as_object().unwrap_or(&empty).clone();
    let (base, local, upstream) = (fields(base), fields(local), fields(upstream));
    let modules: BTreeSet<&String> = base.keys().chain(local.keys()).chain(upstream.keys()).collect();
    let mut document = Map::new();
    let mut conflicts = Vec::new();
    for module in modules {
        let (was, mine, theirs) = (base.get(module), local.get(module), upstream.get(module));
        let kept = if mine == was {
            theirs
        } else {
            if theirs != was && theirs != mine {
                conflicts.push(ModuleConflict { module: module.clone(), base: was.cloned(), upstream: theirs.cloned(), local: mine.cloned() });
            }
            mine
        };
        if let Some(value) = kept {
            document.insert(module.clone(), value.clone());
        }
    }
    Merged { document: Value::Object(document), conflicts }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn untouched_modules_follow_upstream_and_overrides_stay() {
        let base = json!({"name": "A", "fees": 1, "hints": "h", "dropped": true});
        let local = json!({"name": "A", "fees": 2, "hints": "h", "dropped": true, "local_note": "x"});
        let upstream = json!({"name": "B", "fees": 1, "hints": "h2"});
        let merged = merge(&base, &local, &upstream);
        assert_eq!(merged.document, json!({"name": "B", "fees": 2, "hints": "h2", "local_note": "x"}));
        assert!(merged.conflicts.is_empty());
    }

    #[test]
    fn an_upstream_change_to_an_override_is_a_conflict_that_keeps_the_override() {
        let base = json!({"fees": 1, "offices": ["a"]});
        let local = json!({"fees": 2, "offices": ["mine"]});
        let upstream = json!({"fees": 3, "offices": ["mine"]});
        let merged = merge(&base, &local, &upstream);
        assert_eq!(merged.document, json!({"fees": 2, "offices": ["mine"]}), "the same change on both sides is no conflict");
        assert_eq!(merged.conflicts, vec![ModuleConflict { module: "fees".into(), base: Some(json!(1)), upstream: Some(json!(3)), local: Some(json!(2)) }]);
    }
}
