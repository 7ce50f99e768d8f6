//! Field-by-field differences between two documents, for reviewers: every
//! changed value by JSON pointer, and a line diff inside multi-line text.

use serde_json::Value;

use super::schema::escape_pointer;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldChange {
    pub pointer: String,
    pub kind: ChangeKind,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// Unified line diff, for text that spans lines (Markdown modules).
    pub line_diff: Option<String>,
}

/// The changes from `before` to `after`, in pointer order. Objects are
/// compared by key, lists by position.
pub fn diff(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    walk(before, after, String::new(), &mut changes);
    changes
}

fn walk(before: &Value, after: &Value, at: String, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let pointer = format!("{at}/{}", escape_pointer(key));
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => walk(x, y, pointer, out),
                    (Some(x), None) => out.push(FieldChange { pointer, kind: ChangeKind::Removed, before: Some(x.clone()), after: None, line_diff: None }),
                    (None, Some(y)) => out.push(FieldChange { pointer, kind: ChangeKind::Added, before: None, after: Some(y.clone()), line_diff: None }),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for index in 0..a.len().max(b.len()) {
                let pointer = format!("{at}/{index}");
                match (a.get(index), b.get(index)) {
                    (Some(x), Some(y)) => walk(x, y, pointer, out),
                    (Some(x), None) => out.push(FieldChange { pointer, kind: ChangeKind::Removed, before: Some(x.clone()), after: None, line_diff: None }),
                    (None, Some(y)) => out.push(FieldChange { pointer, kind: ChangeKind::Added, before: None, after: Some(y.clone()), line_diff: None }),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a == b => {}
        (a, b) => {
            let line_diff = match (a, b) {
                (Value::String(x), Value::String(y)) if x.contains('\n') || y.contains('\n') => {
                    Some(similar::TextDiff::from_lines(x.as_str(), y.as_str()).unified_diff().context_radius(2).header("before", "after").to_string())
                }
                _ => None,
            };
            out.push(FieldChange { pointer: at, kind: ChangeKind::Changed, before: Some(a.clone()), after: Some(b.clone()), line_diff });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_each_change_by_pointer() {
        let before = json!({"name": "Pass", "fees": [{"amount": 37}], "text": "a\nb\nc\n", "old": 1});
        let after = json!({"name": "Reisepass", "fees": [{"amount": 70}, {"amount": 5}], "text": "a\nB\nc\n", "new": true});
        let changes = diff(&before, &after);
        let summary: Vec<(&str, &ChangeKind)> = changes.iter().map(|c| (c.pointer.as_str(), &c.kind)).collect();
        assert_eq!(
            summary,
            vec![
                ("/fees/0/amount", &ChangeKind::Changed),
                ("/fees/1", &ChangeKind::Added),
                ("/name", &ChangeKind::Changed),
                ("/new", &ChangeKind::Added),
                ("/old", &ChangeKind::Removed),
                ("/text", &ChangeKind::Changed),
            ]
        );
        let text = changes.iter().find(|c| c.pointer == "/text").unwrap();
        let lines = text.line_diff.as_deref().unwrap();
        assert!(lines.contains("-b\n") && lines.contains("+B\n"), "{lines}");
        assert!(diff(&before, &before).is_empty());
    }
}
