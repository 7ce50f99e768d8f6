//! What a document must satisfy: drafts may be incomplete, publishing
//! needs the whole schema and every channel's required fields.

use serde_json::Value;

use crate::content::schema::escape_pointer;
use crate::content::{ContentType, Violation};
use crate::store::{Store, StoreError};

/// Problems that even a draft may not have: wrong types, unknown fields,
/// malformed values. Missing fields are allowed while writing.
pub fn draft_violations(content_type: &ContentType, document: &Value) -> Vec<Violation> {
    content_type.validate(document).into_iter().filter(|v| !v.missing).collect()
}

/// Top-level fields that a channel requires (`x-required-by`) but the
/// document leaves out or empty.
pub fn channel_gaps(content_type: &ContentType, document: &Value) -> Vec<Violation> {
    gaps(content_type, document)
        .map(|(field, channels)| Violation {
            pointer: format!("/{}", escape_pointer(field)),
            message: format!("`{field}` is required by the channel(s) {}", channels.join(", ")),
            missing: true,
        })
        .collect()
}

/// The top-level fields `channel` requires that the document leaves out or empty.
pub fn missing_for_channel<'c>(content_type: &'c ContentType, document: &Value, channel: &str) -> Vec<&'c str> {
    gaps(content_type, document).filter(|(_, channels)| channels.contains(&channel)).map(|(field, _)| field).collect()
}

fn gaps<'c>(content_type: &'c ContentType, document: &Value) -> impl Iterator<Item = (&'c str, Vec<&'c str>)> {
    let walker = content_type.walker();
    walker.properties(&content_type.schema).filter_map(move |(field, node)| {
        let channels: Vec<&str> = walker.resolve(node).get("x-required-by")?.as_array()?.iter().filter_map(Value::as_str).collect();
        let empty = match document.get(field) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(Value::Array(items)) => items.is_empty(),
            Some(Value::Object(map)) => map.is_empty(),
            Some(_) => false,
        };
        (empty && !channels.is_empty()).then_some((field.as_str(), channels))
    })
}

/// Everything that stops a document from being published: schema
/// violations (including missing fields), channel gaps, and references to
/// entries that do not exist or are not published.
pub async fn publishing_problems(store: &Store, content_type: &ContentType, document: &Value) -> Result<Vec<Violation>, StoreError> {
    let mut problems = content_type.validate(document);
    // A gap the schema already reports at the same place is said once.
    let gaps: Vec<Violation> = channel_gaps(content_type, document).into_iter().filter(|g| !problems.iter().any(|p| p.pointer == g.pointer)).collect();
    problems.extend(gaps);
    let references = crate::content::document::references(content_type, document);
    let targets: Vec<(String, String)> = references.iter().map(|r| (r.target_type.clone(), r.target_slug.clone())).collect();
    let unpublished = store.unpublished_references(&targets).await?;
    for reference in references {
        if unpublished.contains(&(reference.target_type.clone(), reference.target_slug.clone())) {
            problems.push(Violation {
                pointer: reference.pointer,
                message: format!("refers to the {} `{}`, which is not published", reference.target_type, reference.target_slug),
                missing: false,
            });
        }
    }
    problems.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    problems.dedup_by(|a, b| a.pointer == b.pointer && a.message == b.message);
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    #[test]
    fn drafts_may_be_incomplete_but_not_wrong() {
        let schema = json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "fees": {"type": "array", "x-required-by": ["kb115"]}}});
        let ct = ContentType::from_schema("t", schema, Path::new("t")).unwrap();
        assert!(draft_violations(&ct, &json!({})).is_empty());
        assert_eq!(draft_violations(&ct, &json!({"name": 3}))[0].pointer, "/name");
        let gaps = channel_gaps(&ct, &json!({"name": "x", "fees": []}));
        assert_eq!(gaps.len(), 1);
        assert!(gaps[0].message.contains("kb115"));
        assert!(channel_gaps(&ct, &json!({"fees": [1]})).is_empty());
    }
}
