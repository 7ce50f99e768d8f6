//! Who may read a field. A field the schema marks `x-channels` is only for
//! those channels (and for editors, who read revisions as written); every
//! other field is for everyone. This is the one place that decides it:
//! each public output asks [`ContentType::hide_from`] before it shows a
//! document.

use serde_json::Value;

use super::schema::Step;

/// The channels a field can be meant for.
pub const CHANNELS: [&str; 4] = ["web", "app", "kb115", "partner"];

/// Channels anyone can read: a field for none of them is internal.
const PUBLIC_CHANNELS: [&str; 3] = ["web", "app", "partner"];

/// Who reads a published document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Anyone, without a channel of their own: the delivery API, the sync
    /// feed and public search. They see what any public channel may show.
    Public,
    /// The files of one channel (`web`, `app`, `kb115`, `partner`).
    Channel(&'static str),
}

impl Audience {
    /// Whether a field annotated `"x-channels": listed` is shown to this audience.
    pub fn sees_listed(self, listed: &Value) -> bool {
        let channels: Vec<String> = listed.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
        self.sees(&channels)
    }

    fn sees(self, channels: &[String]) -> bool {
        match self {
            Audience::Public => channels.iter().any(|c| PUBLIC_CHANNELS.contains(&c.as_str())),
            Audience::Channel(name) => channels.iter().any(|c| c == name),
        }
    }
}

/// A field meant only for some channels, at its place in a document.
#[derive(Clone, Debug)]
pub struct RestrictedField {
    pub path: Vec<Step>,
    pub channels: Vec<String>,
}

impl RestrictedField {
    /// A field no public channel may show.
    pub fn is_internal(&self) -> bool {
        !Audience::Public.sees(&self.channels)
    }

    pub fn is_visible_to(&self, audience: Audience) -> bool {
        audience.sees(&self.channels)
    }

    /// The path as a JSON pointer, `*` for any list element (`/fees/*/note`).
    pub fn pointer(&self) -> String {
        self.path
            .iter()
            .map(|step| match step {
                Step::Key(key) => format!("/{}", super::schema::escape_pointer(key)),
                Step::AnyIndex => "/*".to_owned(),
            })
            .collect()
    }
}

/// Removes the value at `path` wherever it occurs (every element of a list).
pub(super) fn remove(document: &mut Value, path: &[Step]) {
    match (path, document) {
        ([Step::Key(key)], Value::Object(map)) => {
            map.remove(key);
        }
        ([Step::Key(key), rest @ ..], Value::Object(map)) => {
            if let Some(inner) = map.get_mut(key) {
                remove(inner, rest);
            }
        }
        ([Step::AnyIndex], Value::Array(items)) => items.clear(),
        ([Step::AnyIndex, rest @ ..], Value::Array(items)) => {
            for item in items {
                remove(item, rest);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn public_sees_a_field_for_any_public_channel() {
        let only_115 = vec!["kb115".to_owned()];
        assert!(!Audience::Public.sees(&only_115));
        assert!(Audience::Channel("kb115").sees(&only_115));
        assert!(!Audience::Channel("web").sees(&only_115));
        assert!(Audience::Public.sees(&["kb115".to_owned(), "app".to_owned()]));
    }

    #[test]
    fn removes_at_every_list_element() {
        let mut document = json!({"fees": [{"label": "a", "note": "x"}, {"label": "b"}], "name": "n"});
        remove(&mut document, &[Step::Key("fees".into()), Step::AnyIndex, Step::Key("note".into())]);
        assert_eq!(document, json!({"fees": [{"label": "a"}, {"label": "b"}], "name": "n"}));
        remove(&mut document, &[Step::Key("name".into())]);
        assert_eq!(document, json!({"fees": [{"label": "a"}, {"label": "b"}]}));
        // A document of another shape is left alone.
        let mut odd = json!({"fees": "text"});
        remove(&mut odd, &[Step::Key("fees".into()), Step::AnyIndex, Step::Key("note".into())]);
        assert_eq!(odd, json!({"fees": "text"}));
    }
}
