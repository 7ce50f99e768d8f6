//! What a document must satisfy: drafts may be incomplete, publishing
//! needs the whole schema, every channel's required fields and live
//! references. [`approve`] is the one rule; nothing goes live without
//! its [`Approved`].

use serde_json::Value;

use crate::content::schema::escape_pointer;
use crate::content::{ContentType, Locale, Violation};
use crate::store::{EntryRecord, Link, Store, StoreError, links_of};

/// Problems that even a draft may not have: wrong types, unknown fields,
/// malformed values. Missing fields are allowed while writing.
pub fn draft_violations(content_type: &ContentType, document: &Value) -> Vec<Violation> {
    content_type.validate(document).into_iter().filter(|v| !v.missing).collect()
}

/// Top-level fields that a channel requires (`x-required-by`) but the
/// document leaves out or empty.
pub fn channel_gaps(content_type: &ContentType, document: &Value) -> Vec<Violation> {
    content_type
        .channel_gaps(document)
        .map(|(field, channels)| Violation {
            pointer: format!("/{}", escape_pointer(field)),
            message: format!("`{field}` is required by the channel(s) {}", channels.join(", ")),
            missing: true,
        })
        .collect()
}

/// A document that passed the publishing check, before it is known which
/// revision it will be (an import checks files before numbering them).
#[derive(Clone, Debug)]
pub struct Publishable {
    locale: Locale,
    links: Vec<Link>,
}

impl Publishable {
    /// The links a German source puts live.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    pub fn is_source(&self) -> bool {
        self.locale.is_source()
    }

    /// The approval of the revision that holds the checked document.
    pub fn revision(self, entry_id: &str, number: i32) -> Approved {
        Approved { entry_id: entry_id.to_owned(), locale: self.locale, number, links: self.links }
    }
}

/// A revision that passed the publishing check. Only this module makes
/// one, and the store puts nothing live without one: whichever door a
/// publish comes through (the management API, the editor UI, the
/// scheduler, an import, a partner sync), it passed [`approve`].
#[derive(Clone, Debug)]
pub struct Approved {
    entry_id: String,
    locale: Locale,
    number: i32,
    /// The links of a German source; a translation's are its source's.
    links: Vec<Link>,
}

impl Approved {
    pub fn entry_id(&self) -> &str {
        &self.entry_id
    }

    pub fn locale(&self) -> Locale {
        self.locale
    }

    pub fn number(&self) -> i32 {
        self.number
    }

    pub fn links(&self) -> &[Link] {
        &self.links
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("publish the German source before its translations")]
    SourceNotPublished,
    #[error("{slug} has no revision {number} in locale {locale}")]
    NoRevision { slug: String, locale: Locale, number: i32 },
    #[error("{slug} has no revision in locale {locale}")]
    NoLocale { slug: String, locale: Locale },
    #[error("the document is not ready to publish: {} problem(s)", .0.len())]
    Invalid(Vec<Violation>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The publishing rule, for a document as readers would get it (a
/// translation laid over its German source): the whole schema, every
/// channel's required fields (`x-required-by`, also beside a `$ref`), and
/// references only to entries that are live (or go live with it, in an
/// import or sync) — `live` says which.
pub fn approve(content_type: &ContentType, locale: Locale, served: &Value, live: impl Fn(&str, &str) -> bool) -> Result<Publishable, Vec<Violation>> {
    let mut problems = content_type.validate(served);
    // A gap the schema already reports at the same place is said once.
    let gaps: Vec<Violation> = channel_gaps(content_type, served).into_iter().filter(|g| !problems.iter().any(|p| p.pointer == g.pointer)).collect();
    problems.extend(gaps);
    for reference in crate::content::document::references(content_type, served) {
        if !live(&reference.target_type, &reference.target_slug) {
            problems.push(Violation {
                pointer: reference.pointer,
                message: format!("refers to the {} `{}`, which is not published", reference.target_type, reference.target_slug),
                missing: false,
            });
        }
    }
    if !problems.is_empty() {
        problems.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        problems.dedup_by(|a, b| a.pointer == b.pointer && a.message == b.message);
        return Err(problems);
    }
    let links = if locale.is_source() { links_of(content_type, served) } else { Vec::new() };
    Ok(Publishable { locale, links })
}

/// What a translation publishes: itself laid over the German source that
/// is live, which is what readers will get with it.
pub fn served_translation(content_type: &ContentType, live_source: &Value, translation: &Value) -> Result<Value, Vec<Violation>> {
    crate::content::document::overlay_translation(content_type, live_source, translation)
}

/// Whether revision `number` (the newest when none) of one locale of an
/// entry may go live now, checked against the live content.
pub async fn check(store: &Store, content_type: &ContentType, entry: &EntryRecord, locale: Locale, number: Option<i32>) -> Result<Approved, PublishError> {
    let state = entry.locale(locale).ok_or_else(|| PublishError::NoLocale { slug: entry.slug.clone(), locale })?;
    let number = number.unwrap_or(state.latest_number);
    let revision = |locale: Locale, number: i32| async move {
        store.revision(&entry.id, locale, number).await?.ok_or_else(|| PublishError::NoRevision { slug: entry.slug.clone(), locale, number })
    };
    let chosen = revision(locale, number).await?;
    let served = if locale.is_source() {
        chosen.document
    } else {
        let live_source = entry.locale(Locale::SOURCE).and_then(|l| l.published_number).ok_or(PublishError::SourceNotPublished)?;
        let source = revision(Locale::SOURCE, live_source).await?;
        served_translation(content_type, &source.document, &chosen.document).map_err(PublishError::Invalid)?
    };
    let references: Vec<(String, String)> =
        crate::content::document::references(content_type, &served).into_iter().map(|r| (r.target_type, r.target_slug)).collect();
    let unpublished = store.unpublished_references(&references).await?;
    let publishable = approve(content_type, locale, &served, |t, s| !unpublished.iter().any(|(ut, us)| ut == t && us == s)).map_err(PublishError::Invalid)?;
    Ok(publishable.revision(&entry.id, number))
}

/// Everything that would stop a document from being published now (for
/// `validate` requests, which name no entry).
pub async fn publishing_problems(store: &Store, content_type: &ContentType, document: &Value) -> Result<Vec<Violation>, StoreError> {
    let references: Vec<(String, String)> =
        crate::content::document::references(content_type, document).into_iter().map(|r| (r.target_type, r.target_slug)).collect();
    let unpublished = store.unpublished_references(&references).await?;
    Ok(approve(content_type, Locale::SOURCE, document, |t, s| !unpublished.iter().any(|(ut, us)| ut == t && us == s)).err().unwrap_or_default())
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
