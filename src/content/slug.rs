//! Slugs: the human key of an entry, unique within its type.

/// Whether a string is a valid slug: lower-case ASCII letters and digits in
/// groups joined by single hyphens, at most 120 characters, and not shaped
/// like an entry id (the API finds entries by id or slug).
pub fn is_valid(slug: &str) -> bool {
    !slug.is_empty()
        && uuid::Uuid::try_parse(slug).is_err()
        && slug.len() <= 120
        && slug.split('-').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// A slug as every reader of content names checks it: `Err` says why it
/// is not valid and what is.
pub fn check(slug: &str) -> Result<(), String> {
    if is_valid(slug) {
        Ok(())
    } else {
        Err(format!("`{}` is not a valid slug: use lower-case letters a–z, digits and single hyphens (e.g. `personalausweis-beantragen`)", slug.escape_debug()))
    }
}

/// The stable id of an entry first created from `type/slug`. Derived, so the
/// same content imported into two databases gets the same ids.
pub fn entry_id(content_type: &str, slug: &str) -> uuid::Uuid {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6b61_7461_6c6f_6700_8000_0000_0000_0001);
    uuid::Uuid::new_v5(&NAMESPACE, format!("{content_type}/{slug}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rules() {
        assert!(is_valid("personalausweis-beantragen"));
        assert!(is_valid("a1"));
        for bad in ["", "-a", "a-", "a--b", "Ausweis", "straße", "a_b", "a.b", "6b617461-6c6f-4700-8000-000000000001"] {
            assert!(!is_valid(bad), "{bad} must be rejected");
        }
    }

    #[test]
    fn entry_ids_are_stable() {
        assert_eq!(entry_id("service", "x"), entry_id("service", "x"));
        assert_ne!(entry_id("service", "x"), entry_id("office", "x"));
    }
}
