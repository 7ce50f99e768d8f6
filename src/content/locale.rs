//! Locales of the content: German is the source, every other locale is a
//! translation that falls back to German at read time.

use std::fmt;

/// A content locale. `de` is the source; translations fall back to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Locale {
    De,
    En,
    /// Leichte Sprache (easy-to-read German), BCP 47 private-use tag `de-x-ls`.
    DeEasy,
}

impl Locale {
    pub const SOURCE: Locale = Locale::De;
    pub const ALL: [Locale; 3] = [Locale::De, Locale::En, Locale::DeEasy];

    pub fn code(self) -> &'static str {
        match self {
            Locale::De => "de",
            Locale::En => "en",
            Locale::DeEasy => "de-x-ls",
        }
    }

    /// Parses a locale code as written in file names, query strings and the
    /// database; matching is case-insensitive as in BCP 47.
    pub fn parse(code: &str) -> Option<Locale> {
        Locale::ALL.into_iter().find(|l| l.code().eq_ignore_ascii_case(code.trim()))
    }

    pub fn is_source(self) -> bool {
        self == Locale::SOURCE
    }

    /// Best match for an `Accept-Language` header value (quality order,
    /// primary-tag fallback: `en-GB` → `en`).
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut ranges: Vec<(f32, &str)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim();
                // A malformed weight counts as "not acceptable", not as 1.
                let quality = match pieces.find_map(|p| p.trim().strip_prefix("q=")) {
                    Some(q) => q.parse::<f32>().unwrap_or(0.0),
                    None => 1.0,
                };
                (!tag.is_empty() && quality > 0.0).then_some((quality, tag))
            })
            .collect();
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranges.into_iter().find_map(|(_, tag)| Locale::parse(tag).or_else(|| Locale::parse(tag.split('-').next().unwrap_or(tag))))
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_case_insensitively() {
        assert_eq!(Locale::parse("DE-x-LS"), Some(Locale::DeEasy));
        assert_eq!(Locale::parse("en"), Some(Locale::En));
        assert_eq!(Locale::parse("fr"), None);
    }

    #[test]
    fn accept_language_prefers_quality_and_primary_tag() {
        assert_eq!(Locale::from_accept_language("fr;q=0.9, en-GB;q=0.8, de;q=0.1"), Some(Locale::En));
        assert_eq!(Locale::from_accept_language("de-DE,de;q=0.9"), Some(Locale::De));
        assert_eq!(Locale::from_accept_language("fr, it"), None);
        assert_eq!(Locale::from_accept_language("en;q=0, de"), Some(Locale::De));
        assert_eq!(Locale::from_accept_language("en;q=abc, de;q=0.9"), Some(Locale::De));
    }
}
