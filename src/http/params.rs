//! The query parameters many operations share, read the same way
//! everywhere: the locale, the page size and the cursor of a list.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt::Display;
use std::str::FromStr;

use super::grouped::{Found, Member, ParamGroup, integer, string};
use crate::content::Locale;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("unknown locale `{0}`; supported: {supported}", supported = supported_locales())]
    UnknownLocale(String),
    #[error("limit must be at least 1; more than {max} are served as {max}")]
    InvalidLimit { max: u64 },
    #[error("the cursor is not one this list handed out; pass next_cursor unchanged or start again without it")]
    InvalidCursor,
    #[error("parameter `{name}`: {reason}")]
    Malformed { name: String, reason: String },
}

fn supported_locales() -> String {
    Locale::ALL.map(Locale::code).join(", ")
}

/// A `locale` parameter; German when absent.
pub fn locale(code: Option<&str>) -> Result<Locale, ParamError> {
    match code {
        None => Ok(Locale::SOURCE),
        Some(code) => Locale::parse(code).ok_or_else(|| ParamError::UnknownLocale(code.to_owned())),
    }
}

/// The locale a reader asked for: `locale` when given (and then it must be
/// known), else the best match of `Accept-Language`, else German.
pub fn reader_locale(query: Option<&str>, accept_language: Option<&str>) -> Result<Locale, ParamError> {
    match query {
        Some(_) => locale(query),
        None => Ok(accept_language.and_then(Locale::from_accept_language).unwrap_or(Locale::SOURCE)),
    }
}

/// A list's page size: `default` when not given, at most `max`. Asking for
/// more is served as `max` (every list says whether more follows); asking
/// for none is a mistake.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub default: u64,
    pub max: u64,
}

impl Limit {
    pub fn of(self, given: Option<u64>) -> Result<u64, ParamError> {
        match given.unwrap_or(self.default) {
            0 => Err(ParamError::InvalidLimit { max: self.max }),
            limit => Ok(limit.min(self.max)),
        }
    }
}

/// A cursor: where the next page of a list starts, opaque to clients. It
/// names its list (`namespace`), so that a cursor of one list is refused by
/// another instead of skipping to some unrelated position.
pub fn encode_cursor(namespace: &str, position: impl Display) -> String {
    URL_SAFE_NO_PAD.encode(format!("{namespace}:{position}"))
}

/// The position in a cursor of the list `namespace`.
pub fn decode_cursor<T: FromStr>(namespace: &str, cursor: &str) -> Result<T, ParamError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(namespace)?.strip_prefix(':')?.parse().ok())
        .ok_or(ParamError::InvalidCursor)
}

/// The locale a reader asked for, by `locale` or `Accept-Language`
/// (see [`reader_locale`]).
pub struct ReaderLocale(pub Locale);

impl ParamGroup for ReaderLocale {
    fn members() -> Vec<Member> {
        vec![
            Member::query("locale", string, format!("Locale: {}. Overrides `Accept-Language`.", supported_locales())),
            Member::header("Accept-Language", "The reader's languages; used when `locale` is absent."),
        ]
    }

    fn read(found: &Found<'_>) -> Result<Self, ParamError> {
        reader_locale(found.query("locale"), found.header("Accept-Language")).map(ReaderLocale)
    }
}

/// One page of a list: its size, bounded by `DEFAULT` and `MAX` (see
/// [`Limit`]), and the cursor where it starts, still encoded: each list
/// decodes its own.
pub struct Page<const DEFAULT: u64, const MAX: u64> {
    pub limit: u64,
    pub cursor: Option<String>,
}

impl<const DEFAULT: u64, const MAX: u64> ParamGroup for Page<DEFAULT, MAX> {
    fn members() -> Vec<Member> {
        vec![
            Member::query("limit", integer, format!("Page size, 1 to {MAX} (default {DEFAULT}); more are served as {MAX}.")),
            Member::query("cursor", string, "`next_cursor` of the previous page."),
        ]
    }

    fn read(found: &Found<'_>) -> Result<Self, ParamError> {
        let limit = Limit { default: DEFAULT, max: MAX }.of(found.parsed("limit")?)?;
        Ok(Page { limit, cursor: found.query("cursor").map(str::to_owned) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn locale_query_overrides_accept_language_and_must_be_known() {
        assert_eq!(reader_locale(Some("EN"), Some("de")), Ok(Locale::En));
        assert_eq!(reader_locale(None, Some("en-GB, de;q=0.5")), Ok(Locale::En));
        assert_eq!(reader_locale(None, Some("fr")), Ok(Locale::De));
        assert_eq!(reader_locale(None, None), Ok(Locale::De));
        assert_eq!(locale(None), Ok(Locale::De));
        let unknown = reader_locale(Some("fr"), Some("en")).unwrap_err();
        assert_eq!(unknown, ParamError::UnknownLocale("fr".into()));
        assert_eq!(unknown.to_string(), "unknown locale `fr`; supported: de, en, de-x-ls");
    }

    #[test]
    fn limits_default_cap_and_refuse_zero() {
        let limit = Limit { default: 20, max: 100 };
        assert_eq!(limit.of(None), Ok(20));
        assert_eq!(limit.of(Some(1)), Ok(1));
        assert_eq!(limit.of(Some(100)), Ok(100));
        assert_eq!(limit.of(Some(101)), Ok(100));
        assert_eq!(limit.of(Some(u64::MAX)), Ok(100));
        let zero = limit.of(Some(0)).unwrap_err();
        assert_eq!(zero.to_string(), "limit must be at least 1; more than 100 are served as 100");
    }

    #[test]
    fn cursors_belong_to_their_list() {
        let cursor = encode_cursor("service", "personalausweis-beantragen");
        assert_eq!(decode_cursor::<String>("service", &cursor), Ok("personalausweis-beantragen".to_owned()));
        assert_eq!(decode_cursor::<String>("office", &cursor), Err(ParamError::InvalidCursor));
        assert_eq!(decode_cursor::<String>("serv", &cursor), Err(ParamError::InvalidCursor), "a prefix of the namespace is another list");
        assert_eq!(decode_cursor::<i64>("seq", &encode_cursor("seq", 42)), Ok(42));
        assert_eq!(decode_cursor::<i64>("seq", &encode_cursor("seq", "x")), Err(ParamError::InvalidCursor));
        for garbage in ["", "not a cursor", "%%%", "c2VxOg"] {
            assert_eq!(decode_cursor::<i64>("seq", garbage), Err(ParamError::InvalidCursor), "{garbage}");
        }
    }

    #[test]
    fn cursors_handed_out_before_stay_valid() {
        // The wire format clients may hold: base64url of `namespace:position`.
        assert_eq!(decode_cursor::<i64>("seq", &URL_SAFE_NO_PAD.encode("seq:17")), Ok(17));
        assert_eq!(decode_cursor::<usize>("search", &URL_SAFE_NO_PAD.encode("search:20")), Ok(20));
    }

    proptest! {
        #[test]
        fn any_locale_input_is_read_or_refused(query in proptest::option::of(".{0,40}"), header in proptest::option::of(".{0,200}")) {
            match reader_locale(query.as_deref(), header.as_deref()) {
                Ok(found) => prop_assert!(query.is_none() || Locale::parse(query.as_deref().unwrap()) == Some(found)),
                Err(error) => prop_assert_eq!(error, ParamError::UnknownLocale(query.unwrap())),
            }
        }

        #[test]
        fn any_limit_is_within_bounds_or_refused(given in proptest::option::of(any::<u64>()), default in 1..1000u64, max in 1..1000u64) {
            match (Limit { default, max }).of(given) {
                Ok(limit) => prop_assert!((1..=max).contains(&limit)),
                Err(error) => prop_assert_eq!(error, ParamError::InvalidLimit { max }),
            }
        }

        #[test]
        fn any_cursor_is_read_or_refused(cursor in ".{0,200}", bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = decode_cursor::<i64>("seq", &cursor);
            let _ = decode_cursor::<String>("service", &URL_SAFE_NO_PAD.encode(&bytes));
        }

        #[test]
        fn cursors_round_trip_only_in_their_list(position in ".{0,60}", namespace in "[a-z-]{1,12}", other in "[a-z-]{1,12}") {
            let cursor = encode_cursor(&namespace, &position);
            prop_assert_eq!(decode_cursor::<String>(&namespace, &cursor), Ok(position.clone()));
            if other != namespace {
                // The other list reads it only if its name plus `:` starts the cursor's text.
                let text = format!("{namespace}:{position}");
                let expected = text.strip_prefix(&format!("{other}:")).map(str::to_owned).ok_or(ParamError::InvalidCursor);
                prop_assert_eq!(decode_cursor::<String>(&other, &cursor), expected);
            }
        }
    }
}
