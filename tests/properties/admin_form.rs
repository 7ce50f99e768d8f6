//! The editor UI reads what anyone signed in posts: every form body is
//! read or refused with an error, never a panic, and what is read stays
//! within the bounds, however deep the paths, huge the list indices or
//! odd the encoding.

use std::sync::LazyLock;

use katalog::admin::form::{self, FormError, MAX_DEPTH, Posted};
use katalog::content::Registry;
use proptest::prelude::*;
use serde_json::Value;

use crate::{corpus, registry};

static REGISTRY: LazyLock<Registry> = LazyLock::new(registry);

fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Reads `body` as each type's entry form does, with its list action:
/// read or refused, and what is read is no larger than the body allows.
fn reads_within_bounds(body: &[u8]) -> Vec<Result<Value, FormError>> {
    let posted = match Posted::from_body(body) {
        Ok(posted) => posted,
        Err(error) => return vec![Err(error)],
    };
    // A byte of the body makes at most a few bytes of the document (an
    // escaped control character, a replaced invalid byte); the rest is the
    // empty document, an item an action adds and the parents it makes.
    let bound = 6 * body.len() + 64 * MAX_DEPTH;
    REGISTRY
        .iter()
        .map(|content_type| {
            let (mut document, _) = form::read(content_type, &posted)?;
            if let Some(action) = posted.control("_action").filter(|action| *action != "save") {
                form::apply_list_action(content_type, &mut document, action)?;
            }
            form::without_empty_items(&mut document, false);
            assert!(depth(&document) <= MAX_DEPTH + 1, "{}: too deep", content_type.name);
            let size = document.to_string().len();
            assert!(size <= bound, "{}: {size} bytes read from a body of {}", content_type.name, body.len());
            Ok(document)
        })
        .collect()
}

fn body(pairs: &[(String, String)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()
}

#[test]
fn the_corpus_is_read_within_bounds() {
    for (name, bytes) in corpus("admin_form") {
        let results = reads_within_bounds(bytes.trim_ascii_end());
        assert!(results.iter().all(Result::is_err), "{name} is a post no form makes, and is refused: {results:?}");
    }
}

/// Steps of a path: property names of the schemas, list indices as
/// written and as no form writes them, and escapes.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "fees",
            "label",
            "amount",
            "opening_hours",
            "slots",
            "days",
            "name",
            "keywords",
            "topics",
            "address",
            "street",
            "duration",
            "a"
        ])
        .prop_map(str::to_owned),
        prop::sample::select(vec!["0", "1", "2", "00", "01", "+1", "-1", " 1", "1 ", "1e3", "0x1", "", "~0", "~1", "~", "%2F", "..", "18446744073709551616"])
            .prop_map(str::to_owned),
        any::<u64>().prop_map(|n| n.to_string()),
        "\\PC{0,6}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 0..24).prop_map(|segments| segments.iter().map(|s| format!("/{s}")).collect())
}

/// Places the forms have, with small indices, so that many posts are read.
fn place() -> impl Strategy<Value = String> {
    let places = vec![
        "/name",
        "/fees/{i}/label",
        "/fees/{i}/amount",
        "/fees/{i}/kind",
        "/keywords",
        "/topics",
        "/address/street",
        "/deadlines/{i}/duration/value",
        "/opening_hours/{i}/kind",
        "/opening_hours/{i}/slots/{j}/days",
        "/opening_hours/{i}/slots/{j}/opens",
        "/exceptions/{i}/closed",
    ];
    (prop::sample::select(places), 0..3usize, 0..3usize).prop_map(|(place, i, j)| place.replace("{i}", &i.to_string()).replace("{j}", &j.to_string()))
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => place(),
        4 => path(),
        1 => prop::sample::select(vec!["_csrf", "_slug", "_version", "_message", "_action", ""]).prop_map(str::to_owned),
        1 => "\\PC{0,12}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,20}",
        prop::sample::select(vec!["true", "false", "12,50", "1e308", "-0", "NaN", "99999999999999999999", "a\r\nb\nc", "fixed"]).prop_map(str::to_owned),
        (prop::sample::select(vec!["add:", "remove:", "save", "drop:", "add", "add:add:"]), prop_oneof![place(), path()])
            .prop_map(|(action, path)| format!("{action}{path}")),
    ]
}

/// A service form as a browser posts it (its fees numbered from 0), with
/// any values and any list action.
fn service_form() -> impl Strategy<Value = Vec<(String, String)>> {
    let action = prop_oneof![Just("save".to_owned()), Just("add:/fees".to_owned()), "remove:/fees/[0-4]", value()];
    (0..4usize, prop::collection::vec(value(), 6), action).prop_map(|(fees, values, action)| {
        let mut pairs: Vec<(String, String)> =
            [("/name", 0), ("/keywords", 1), ("/topics", 2)].iter().map(|(name, v)| ((*name).to_owned(), values[*v].clone())).collect();
        for i in 0..fees {
            pairs.extend([("label", 3), ("amount", 4), ("kind", 5)].iter().map(|(field, v)| (format!("/fees/{i}/{field}"), values[*v].clone())));
        }
        pairs.push(("_action".to_owned(), action));
        pairs
    })
}

/// A form body with some bytes written as no browser writes them: raw
/// bytes, broken percent escapes, `+`, stray `&` and `=`.
fn oddly_encoded() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::collection::vec((name(), value()), 0..6).prop_map(|pairs| body(&pairs)),
        prop::sample::select(vec!["%", "%z", "%C3", "%FF", "%00", "+", "&", "=", "&&", "==", "%2F", "%252F", "\u{0}", "\u{feff}"])
            .prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_read_within_bounds(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        reads_within_bounds(&bytes);
    }

    #[test]
    fn form_like_posts_are_read_within_bounds(pairs in prop::collection::vec((name(), value()), 0..40)) {
        reads_within_bounds(&body(&pairs));
    }

    #[test]
    fn service_forms_are_read_within_bounds(pairs in service_form()) {
        reads_within_bounds(&body(&pairs));
    }

    #[test]
    fn oddly_encoded_posts_are_read_within_bounds(bytes in oddly_encoded()) {
        reads_within_bounds(&bytes);
    }

    /// However large, an index no item before it leads to is refused.
    #[test]
    fn a_list_index_beyond_the_items_is_refused(index in 1u64.., field in prop::sample::select(vec!["label", "amount", "note"])) {
        let posted = body(&[(format!("/fees/{index}/{field}"), "1".to_owned())]);
        let removal = body(&[("_action".to_owned(), format!("remove:/fees/{index}"))]);
        let service = REGISTRY.get("service").unwrap();
        for bytes in [posted, removal] {
            let results = reads_within_bounds(&bytes);
            let service_result = &results[REGISTRY.iter().position(|ct| ct.name == service.name).unwrap()];
            prop_assert!(matches!(service_result, Err(FormError::NoSuchItem(_))), "{service_result:?}");
        }
    }

    /// List actions as deep as a body can carry are refused, not followed.
    #[test]
    fn deep_list_actions_are_refused(steps in 1usize..100_000, step in prop::sample::select(vec!["/a", "/fees/0", "/0", "/"])) {
        let action = format!("add:{}", step.repeat(steps));
        let results = reads_within_bounds(&body(&[("_action".to_owned(), action.clone())]));
        prop_assert!(results.iter().all(Result::is_err), "{steps} steps of {step}: {results:?}");
    }
}
