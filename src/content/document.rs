//! Operations on entry documents that follow the schema's annotations:
//! laying a translation over its German source, finding which localised
//! fields fell back to German, and collecting references.

use serde_json::Value;

use super::schema::{ContentType, SchemaWalker, Step, Violation, escape_pointer};

fn is_localized(node: &Value) -> bool {
    node.get("x-localized").and_then(Value::as_bool).unwrap_or(false)
}

/// Lays a translation (which holds only localised fields) over its German
/// source. Localised values replace the source's; lists are matched by
/// position. Any value that is not localised is a violation, because it
/// would silently diverge from the source.
pub fn overlay_translation(content_type: &ContentType, source: &Value, translation: &Value) -> Result<Value, Vec<Violation>> {
    let walker = content_type.walker();
    let mut violations = Vec::new();
    let merged = overlay(&walker, &content_type.schema, source, translation, &mut String::new(), &mut violations);
    if violations.is_empty() { Ok(merged) } else { Err(violations) }
}

/// Appends one step to a JSON pointer kept in `at`; returns the length to
/// cut it back to. One buffer serves the whole walk: most documents have
/// no violation, so no pointer needs a string of its own.
fn push_step(at: &mut String, step: impl std::fmt::Display) -> usize {
    use std::fmt::Write;
    let length = at.len();
    let _ = write!(at, "/{step}");
    length
}

fn overlay(walker: &SchemaWalker<'_>, node: &Value, source: &Value, translation: &Value, at: &mut String, violations: &mut Vec<Violation>) -> Value {
    let node = walker.resolve(node);
    if is_localized(node) {
        return translation.clone();
    }
    match translation {
        Value::Object(fields) => {
            let mut merged = source.as_object().cloned().unwrap_or_default();
            for (key, value) in fields {
                let length = push_step(at, escape_pointer(key));
                match walker.property(node, key) {
                    Some(child) => {
                        let base = source.get(key).unwrap_or(&Value::Null);
                        merged.insert(key.clone(), overlay(walker, child, base, value, at, violations));
                    }
                    None => violations.push(Violation { pointer: at.clone(), message: format!("unknown field `{key}`"), missing: false }),
                }
                at.truncate(length);
            }
            Value::Object(merged)
        }
        Value::Array(items) => {
            let Some(item_schema) = walker.items(node) else {
                violations.push(Violation { pointer: at.clone(), message: "this field is not a list".into(), missing: false });
                return source.clone();
            };
            let mut merged = source.as_array().cloned().unwrap_or_default();
            if items.len() > merged.len() {
                violations.push(Violation {
                    pointer: at.clone(),
                    message: format!(
                        "the translation has {} elements but the German source only {}; translations are matched by position",
                        items.len(),
                        merged.len()
                    ),
                    missing: false,
                });
                return source.clone();
            }
            for (index, item) in items.iter().enumerate() {
                let length = push_step(at, index);
                merged[index] = overlay(walker, item_schema, &merged[index], item, at, violations);
                at.truncate(length);
            }
            Value::Array(merged)
        }
        _ => {
            violations.push(Violation {
                pointer: at.clone(),
                message: "this field is not translatable: it comes from the German source".into(),
                missing: false,
            });
            source.clone()
        }
    }
}

/// JSON pointers of the localised values present in the source that the
/// translation does not provide, so readers can see what fell back to German.
pub fn fallback_pointers(content_type: &ContentType, source: &Value, translation: &Value) -> Vec<String> {
    let walker = content_type.walker();
    let mut out = Vec::new();
    collect_fallbacks(&walker, &content_type.schema, source, Some(translation), &mut String::new(), &mut out);
    out
}

fn collect_fallbacks(walker: &SchemaWalker<'_>, node: &Value, source: &Value, translation: Option<&Value>, at: &mut String, out: &mut Vec<String>) {
    let node = walker.resolve(node);
    if is_localized(node) {
        if translation.is_none() {
            out.push(at.clone());
        }
        return;
    }
    match source {
        Value::Object(fields) => {
            for (key, value) in fields {
                if let Some(child) = walker.property(node, key) {
                    let translated = translation.and_then(|t| t.get(key));
                    let length = push_step(at, escape_pointer(key));
                    collect_fallbacks(walker, child, value, translated, at, out);
                    at.truncate(length);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = walker.items(node) {
                for (index, value) in items.iter().enumerate() {
                    let translated = translation.and_then(|t| t.get(index));
                    let length = push_step(at, index);
                    collect_fallbacks(walker, item_schema, value, translated, at, out);
                    at.truncate(length);
                }
            }
        }
        _ => {}
    }
}

/// A reference from a document to another entry, with where it sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub pointer: String,
    pub target_type: String,
    pub target_slug: String,
}

pub fn references(content_type: &ContentType, document: &Value) -> Vec<Reference> {
    let mut out = Vec::new();
    for site in &content_type.references {
        collect_at(document, &site.path, String::new(), &mut |pointer, value| {
            if let Some(slug) = value.as_str() {
                out.push(Reference { pointer, target_type: site.target_type.clone(), target_slug: slug.to_owned() });
            }
        });
    }
    out
}

fn collect_at(value: &Value, path: &[Step], at: String, visit: &mut dyn FnMut(String, &Value)) {
    match path.split_first() {
        None => visit(at, value),
        Some((Step::Key(key), rest)) => {
            if let Some(child) = value.get(key) {
                collect_at(child, rest, format!("{at}/{}", escape_pointer(key)), visit);
            }
        }
        Some((Step::AnyIndex, rest)) => {
            for (index, child) in value.as_array().into_iter().flatten().enumerate() {
                collect_at(child, rest, format!("{at}/{index}"), visit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn content_type() -> ContentType {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "x-localized": true},
                "office": {"type": "string", "x-reference": "office"},
                "fees": {"type": "array", "items": {"$ref": "#/$defs/fee"}},
                "links": {"type": "array", "items": {"type": "object", "properties": {
                    "to": {"type": "string", "x-reference": "service"}}}}
            },
            "$defs": {"fee": {"type": "object", "properties": {
                "label": {"type": "string", "x-localized": true},
                "amount": {"type": "number"}}}}
        });
        ContentType::from_schema("test", schema, Path::new("test.schema.json")).unwrap()
    }

    #[test]
    fn translation_overlays_localized_values_by_position() {
        let ct = content_type();
        let source = json!({"name": "Ausweis", "office": "mitte", "fees": [{"label": "Gebühr", "amount": 37.0}, {"label": "Ermäßigt", "amount": 22.8}]});
        let translation = json!({"name": "ID card", "fees": [{"label": "Fee"}]});
        let merged = overlay_translation(&ct, &source, &translation).unwrap();
        assert_eq!(merged["name"], "ID card");
        assert_eq!(merged["office"], "mitte");
        assert_eq!(merged["fees"][0], json!({"label": "Fee", "amount": 37.0}));
        assert_eq!(merged["fees"][1]["label"], "Ermäßigt");
        assert_eq!(fallback_pointers(&ct, &source, &translation), vec!["/fees/1/label".to_owned()]);
    }

    #[test]
    fn translation_may_not_change_structured_values() {
        let ct = content_type();
        let source = json!({"name": "Ausweis", "fees": [{"label": "Gebühr", "amount": 37.0}]});
        let errors = overlay_translation(&ct, &source, &json!({"office": "x", "fees": [{"amount": 1}, {"label": "zu viel"}]})).unwrap_err();
        let pointers: Vec<_> = errors.iter().map(|v| v.pointer.as_str()).collect();
        assert_eq!(pointers, vec!["/fees", "/office"]);
        let errors = overlay_translation(&ct, &source, &json!({"fees": [{"amount": 1}]})).unwrap_err();
        assert_eq!(errors[0].pointer, "/fees/0/amount");
    }

    #[test]
    fn references_are_found_at_any_depth() {
        let ct = content_type();
        let doc = json!({"office": "mitte", "links": [{"to": "pass"}, {"to": "ausweis"}]});
        let refs = references(&ct, &doc);
        let found: Vec<_> = refs.iter().map(|r| (r.pointer.as_str(), r.target_type.as_str(), r.target_slug.as_str())).collect();
        assert_eq!(found, vec![("/links/0/to", "service", "pass"), ("/links/1/to", "service", "ausweis"), ("/office", "office", "mitte")]);
    }
}
