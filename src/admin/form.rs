//! Forms made from a content type's JSON Schema, and documents read back
//! from what the browser posts. A new type in `schemas/` gets a working
//! form without code: every value is named by its JSON pointer
//! (`/fees/0/amount`), so reading a post back walks the same schema.
//!
//! Lists of objects grow and shrink with "add" and "remove" buttons that
//! post the form and show it again; that works without JavaScript.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::content::schema::{SchemaWalker, escape_pointer};
use crate::content::key_order::KeyOrder;
use crate::content::{ContentType, Violation};

/// One field of a form, ready for the template.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FormField {
    /// The JSON pointer of the value, and the name of its input.
    pub pointer: String,
    /// An id safe for HTML `id`/`for` attributes.
    pub id: String,
    pub label: String,
    pub help: Option<String>,
    pub required: bool,
    pub widget: Widget,
    /// The value of a single input.
    pub value: String,
    /// The chosen values of checkboxes.
    pub chosen: Vec<String>,
    pub options: Vec<Choice>,
    pub error: Option<String>,
    /// A group's fields, or a list's items.
    pub children: Vec<FormField>,
    /// A list item that can be removed; a list that can grow.
    pub removable: bool,
    pub growable: bool,
    /// The German text beside a field of a translation.
    pub source: Option<String>,
    /// The content type a reference points to (its picker lists entries of it).
    pub reference: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Widget {
    #[default]
    Text,
    Markdown,
    Number,
    Integer,
    /// Yes, no, or not said.
    YesNo,
    Select,
    Checkboxes,
    /// A list of short texts, one per line.
    Lines,
    Date,
    Url,
    Email,
    Reference,
    Group,
    List,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// The entries a reference may point to, per content type: (slug, title).
pub type ReferenceChoices = HashMap<String, Vec<Choice>>;

/// What a form shows besides the document: errors at fields, the German
/// source when translating, the choices of references.
pub struct FormContext<'a> {
    pub errors: &'a [Violation],
    /// Set when the form edits a translation: only localised fields are
    /// shown, each beside its German text.
    pub source: Option<&'a Value>,
    pub references: &'a ReferenceChoices,
}

/// The fields of a form for `document`.
pub fn fields(content_type: &ContentType, document: &Value, context: &FormContext<'_>) -> Vec<FormField> {
    let builder = Builder { walker: content_type.walker(), root: &content_type.schema, order: &content_type.key_order, context };
    builder.object_fields(&content_type.schema, "", document, context.source, "")
}

struct Builder<'a> {
    walker: SchemaWalker<'a>,
    root: &'a Value,
    order: &'a KeyOrder,
    context: &'a FormContext<'a>,
}

impl<'a> Builder<'a> {
    fn object_fields(&self, node: &'a Value, schema_at: &str, value: &Value, source: Option<&Value>, at: &str) -> Vec<FormField> {
        let (node, schema_at) = self.resolve(node, schema_at);
        let required: BTreeSet<&str> = node.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let declared = format!("{schema_at}/properties");
        let mut properties: Vec<(&String, &Value)> = own_properties(node).collect();
        properties.sort_by_key(|(key, _)| self.order.position(&declared, key));
        properties
            .into_iter()
            .filter(|(_, child)| self.context.source.is_none() || self.has_localised(child, 0))
            .map(|(key, child)| {
                let pointer = format!("{at}/{}", escape_pointer(key));
                let child_at = format!("{declared}/{}", escape_pointer(key));
                let mut field = self.field(child, &child_at, value.get(key).unwrap_or(&Value::Null), source.and_then(|s| s.get(key)), &pointer);
                field.required = required.contains(key.as_str());
                if field.label.is_empty() {
                    field.label = key.replace('_', " ");
                }
                field
            })
            .collect()
    }

    /// A node with its `$ref`s followed, and the pointer of where it is in the schema.
    fn resolve(&self, mut node: &'a Value, at: &str) -> (&'a Value, String) {
        let mut at = at.to_owned();
        for _ in 0..32 {
            let Some(target) = node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) else { break };
            let Some(resolved) = self.root.pointer(target) else { break };
            node = resolved;
            at = target.to_owned();
        }
        (node, at)
    }

    fn field(&self, declared: &'a Value, schema_at: &str, value: &Value, source: Option<&Value>, pointer: &str) -> FormField {
        let (node, schema_at) = self.resolve(declared, schema_at);
        // A property's own title and description win over those of the definition it refers to.
        let text = |key: &str| declared.get(key).or_else(|| node.get(key)).and_then(Value::as_str).map(str::to_owned);
        let mut field = FormField {
            pointer: pointer.to_owned(),
            id: format!("f{}", pointer.replace(['/', '~'], "-")),
            label: text("title").unwrap_or_default(),
            help: text("description"),
            error: self.error_at(pointer),
            ..FormField::default()
        };
        let translating = self.context.source.is_some();
        match kind(node) {
            Kind::Object => {
                field.widget = Widget::Group;
                field.children = self.object_fields(node, &schema_at, value, source, pointer);
            }
            Kind::Array => {
                let items_at = format!("{schema_at}/items");
                // Unresolved, so that the items' own place in the schema is known.
                let declared_items = node.get("items");
                let items = self.walker.items(node).unwrap_or(&Value::Null);
                let item_kind = kind(items);
                if let Some(options) = self.options(items) {
                    field.widget = Widget::Checkboxes;
                    field.options = options;
                    field.chosen = value.as_array().into_iter().flatten().filter_map(scalar_text).collect();
                    field.reference = items.get("x-reference").and_then(Value::as_str).map(str::to_owned);
                } else if matches!(item_kind, Kind::Object | Kind::Array) {
                    field.widget = Widget::List;
                    let values = value.as_array().cloned().unwrap_or_default();
                    let sources = source.and_then(Value::as_array);
                    let count = if translating { sources.map_or(0, Vec::len) } else { values.len() };
                    field.children = (0..count)
                        .map(|index| {
                            let item_pointer = format!("{pointer}/{index}");
                            let item_source = sources.and_then(|s| s.get(index));
                            let mut item = self.field(declared_items.unwrap_or(items), &items_at, values.get(index).unwrap_or(&Value::Null), item_source, &item_pointer);
                            item.label = format!("{} {}", field.label, index + 1);
                            item.removable = !translating;
                            item
                        })
                        .collect();
                    field.growable = !translating;
                } else {
                    field.widget = Widget::Lines;
                    field.value = value.as_array().into_iter().flatten().filter_map(scalar_text).collect::<Vec<_>>().join("\n");
                    field.source = source.and_then(Value::as_array).map(|s| s.iter().filter_map(scalar_text).collect::<Vec<_>>().join("\n"));
                }
            }
            Kind::Scalar(scalar) => {
                field.value = scalar_text(value).unwrap_or_default();
                field.source = source.and_then(scalar_text);
                field.widget = if let Some(options) = self.options(node) {
                    field.options = options;
                    field.reference = node.get("x-reference").and_then(Value::as_str).map(str::to_owned);
                    if field.reference.is_some() { Widget::Reference } else { Widget::Select }
                } else {
                    match scalar {
                        Scalar::Boolean => Widget::YesNo,
                        Scalar::Integer => Widget::Integer,
                        Scalar::Number => Widget::Number,
                        Scalar::String if node.get("x-markdown").and_then(Value::as_bool) == Some(true) => Widget::Markdown,
                        Scalar::String => match node.get("format").and_then(Value::as_str) {
                            Some("date") => Widget::Date,
                            Some("uri") => Widget::Url,
                            Some("email") => Widget::Email,
                            _ => Widget::Text,
                        },
                    }
                };
            }
        }
        field
    }

    /// The fixed choices of a value: its `enum`, or the entries a reference may point to.
    fn options(&self, node: &Value) -> Option<Vec<Choice>> {
        let node = self.walker.resolve(node);
        if let Some(target) = node.get("x-reference").and_then(Value::as_str) {
            return Some(self.context.references.get(target).cloned().unwrap_or_default());
        }
        let values = node.get("enum")?.as_array()?;
        Some(values.iter().filter_map(scalar_text).map(|v| Choice { label: v.clone(), value: v }).collect())
    }

    fn has_localised(&self, node: &Value, depth: usize) -> bool {
        let node = self.walker.resolve(node);
        if node.get("x-localized").and_then(Value::as_bool) == Some(true) {
            return true;
        }
        depth < 8
            && (own_properties(node).any(|(_, child)| self.has_localised(child, depth + 1))
                || self.walker.items(node).is_some_and(|items| self.has_localised(items, depth + 1)))
    }

    fn error_at(&self, pointer: &str) -> Option<String> {
        let messages: Vec<&str> = self.context.errors.iter().filter(|v| v.pointer == pointer).map(|v| v.message.as_str()).collect();
        (!messages.is_empty()).then(|| messages.join("; "))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Object,
    Array,
    Scalar(Scalar),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scalar {
    String,
    Integer,
    Number,
    Boolean,
}

fn kind(node: &Value) -> Kind {
    let declared = match node.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    };
    match declared {
        Some("object") => Kind::Object,
        Some("array") => Kind::Array,
        Some("integer") => Kind::Scalar(Scalar::Integer),
        Some("number") => Kind::Scalar(Scalar::Number),
        Some("boolean") => Kind::Scalar(Scalar::Boolean),
        Some(_) => Kind::Scalar(Scalar::String),
        None if node.get("properties").is_some() => Kind::Object,
        None if node.get("items").is_some() => Kind::Array,
        None => Kind::Scalar(Scalar::String),
    }
}

/// The properties a node declares itself; those inside `if`/`then` are
/// conditions on these, not further fields.
fn own_properties(node: &Value) -> impl Iterator<Item = (&String, &Value)> {
    node.get("properties").and_then(Value::as_object).into_iter().flatten()
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A value's place said in the schema's words: `/fees/0/amount` is
/// "Kosten 1 › amount" when only the list has a title.
pub fn label_of(content_type: &ContentType, pointer: &str) -> String {
    let walker = content_type.walker();
    let mut node = Some(&content_type.schema);
    let mut parts = Vec::new();
    for token in pointer.split('/').skip(1) {
        let key = token.replace("~1", "/").replace("~0", "~");
        match (key.parse::<usize>(), node) {
            (Ok(index), Some(list)) if walker.items(list).is_some() => {
                if let Some(last) = parts.last_mut() {
                    *last = format!("{last} {}", index + 1);
                }
                node = walker.items(list);
            }
            (_, parent) => {
                let child = parent.and_then(|p| own_properties(walker.resolve(p)).find(|(k, _)| **k == key).map(|(_, v)| v));
                let title = child.and_then(|c| c.get("title").or_else(|| walker.resolve(c).get("title"))).and_then(Value::as_str);
                parts.push(title.map_or_else(|| key.replace('_', " ").trim().to_owned(), str::to_owned));
                node = child;
            }
        }
    }
    if parts.is_empty() { pointer.to_owned() } else { parts.join(" › ") }
}

/// What the browser posted, by input name.
pub struct Posted {
    values: BTreeMap<String, Vec<String>>,
}

impl Posted {
    pub fn new(pairs: Vec<(String, String)>) -> Posted {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in pairs {
            values.entry(name).or_default().push(value);
        }
        Posted { values }
    }

    /// The first value of a control that is not part of the document (`_csrf`, `_version`).
    pub fn control(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.first()).map(String::as_str)
    }

    fn all(&self, pointer: &str) -> &[String] {
        self.values.get(pointer).map(Vec::as_slice).unwrap_or_default()
    }

    fn first(&self, pointer: &str) -> Option<&str> {
        self.all(pointer).first().map(String::as_str)
    }

    /// The indices posted for items of the list at `pointer`.
    fn indices(&self, pointer: &str) -> BTreeSet<usize> {
        let prefix = format!("{pointer}/");
        self.values
            .range(prefix.clone()..)
            .take_while(|(name, _)| name.starts_with(&prefix))
            .filter_map(|(name, _)| name[prefix.len()..].split('/').next()?.parse().ok())
            .collect()
    }
}

/// The document a posted form describes, and the values that could not be
/// read (a number that is not one), located like schema violations.
/// Empty inputs leave their field out; list items stay in place even when
/// empty, so that a form shown again keeps them (see [`without_empty_items`]).
pub fn read(content_type: &ContentType, posted: &Posted, translating: bool) -> (Value, Vec<Violation>) {
    let reader = Reader { walker: content_type.walker(), posted, translating };
    let mut problems = Vec::new();
    let document = reader.object(&content_type.schema, "", &mut problems).unwrap_or_else(|| Value::Object(Map::new()));
    (document, problems)
}

struct Reader<'a> {
    walker: SchemaWalker<'a>,
    posted: &'a Posted,
    translating: bool,
}

impl<'a> Reader<'a> {
    fn object(&self, node: &'a Value, at: &str, problems: &mut Vec<Violation>) -> Option<Value> {
        let node = self.walker.resolve(node);
        let mut map = Map::new();
        for (key, child) in own_properties(node) {
            if let Some(value) = self.value(child, &format!("{at}/{}", escape_pointer(key)), problems) {
                map.insert(key.clone(), value);
            }
        }
        (!map.is_empty()).then_some(Value::Object(map))
    }

    fn value(&self, node: &'a Value, pointer: &str, problems: &mut Vec<Violation>) -> Option<Value> {
        let node = self.walker.resolve(node);
        match kind(node) {
            Kind::Object => self.object(node, pointer, problems),
            Kind::Array => {
                let items = self.walker.items(node).unwrap_or(&Value::Null);
                let item_kind = kind(self.walker.resolve(items));
                let values: Vec<Value> = if matches!(item_kind, Kind::Object | Kind::Array) && items.get("x-reference").is_none() && items.get("enum").is_none() {
                    let indices = self.posted.indices(pointer);
                    let last = indices.last().copied()?;
                    // A translation's items match the source's by position: gaps stay as empty objects.
                    let positions: Vec<usize> = if self.translating { (0..=last).collect() } else { indices.into_iter().collect() };
                    positions
                        .into_iter()
                        .map(|index| self.value(items, &format!("{pointer}/{index}"), problems).unwrap_or_else(|| Value::Object(Map::new())))
                        .collect()
                } else if items.get("x-reference").is_some() || self.walker.resolve(items).get("enum").is_some() {
                    let mut chosen = Vec::new();
                    for text in self.posted.all(pointer).iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
                        if let Some(value) = self.scalar(item_kind, text, pointer, problems) {
                            chosen.push(value);
                        }
                    }
                    chosen
                } else {
                    let text = self.posted.first(pointer).unwrap_or_default();
                    let mut lines = Vec::new();
                    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                        if let Some(value) = self.scalar(item_kind, line, pointer, problems) {
                            lines.push(value);
                        }
                    }
                    lines
                };
                (!values.is_empty()).then_some(Value::Array(values))
            }
            Kind::Scalar(_) if node.get("x-markdown").and_then(Value::as_bool) == Some(true) => {
                // Browsers send line breaks as CR LF; the text is otherwise kept as written.
                let text = self.posted.first(pointer)?.replace("\r\n", "\n");
                (!text.trim().is_empty()).then_some(Value::String(text))
            }
            kind @ Kind::Scalar(_) => {
                let text = self.posted.first(pointer)?.trim();
                if text.is_empty() {
                    return None;
                }
                self.scalar(kind, text, pointer, problems)
            }
        }
    }

    fn scalar(&self, kind: Kind, text: &str, pointer: &str, problems: &mut Vec<Violation>) -> Option<Value> {
        let mut unreadable = |message: String| {
            problems.push(Violation { pointer: pointer.to_owned(), message, missing: false });
            None
        };
        match kind {
            Kind::Scalar(Scalar::Integer) => match text.parse::<i64>() {
                Ok(n) => Some(Value::from(n)),
                Err(_) => unreadable(format!("`{text}` is not a whole number")),
            },
            // Whole numbers stay whole (`108`, not `108.0`); a decimal comma is read as a point.
            Kind::Scalar(Scalar::Number) => match text.parse::<i64>() {
                Ok(n) => Some(Value::from(n)),
                Err(_) => match text.replace(',', ".").parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                    Some(n) => Some(Value::Number(n)),
                    None => unreadable(format!("`{text}` is not a number")),
                },
            },
            Kind::Scalar(Scalar::Boolean) => match text {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => unreadable(format!("`{text}` is neither yes nor no")),
            },
            _ => Some(Value::String(text.to_owned())),
        }
    }
}

/// The document without list items left empty: what is saved. A
/// translation keeps empty items before filled ones, because its items
/// match the German source's by position.
pub fn without_empty_items(document: &mut Value, keep_positions: bool) {
    match document {
        Value::Object(map) => {
            map.values_mut().for_each(|value| without_empty_items(value, keep_positions));
            map.retain(|_, value| !is_empty(value));
        }
        Value::Array(items) => {
            items.iter_mut().for_each(|item| without_empty_items(item, keep_positions));
            if keep_positions {
                while items.last().is_some_and(is_empty) {
                    items.pop();
                }
            } else {
                items.retain(|item| !is_empty(item));
            }
        }
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// A list change asked for by an "add" or "remove" button, applied to the
/// document that is shown again.
pub fn apply_list_action(document: &mut Value, action: &str) -> bool {
    if let Some(pointer) = action.strip_prefix("add:") {
        let Some(list) = ensure_array(document, pointer) else { return false };
        list.push(Value::Object(Map::new()));
        return true;
    }
    if let Some(pointer) = action.strip_prefix("remove:") {
        let Some((list_pointer, index)) = pointer.rsplit_once('/') else { return false };
        let Ok(index) = index.parse::<usize>() else { return false };
        if let Some(Value::Array(items)) = document.pointer_mut(list_pointer)
            && index < items.len()
        {
            items.remove(index);
            return true;
        }
    }
    false
}

/// The array at `pointer`, created (with its parent objects) when absent.
fn ensure_array<'d>(document: &'d mut Value, pointer: &str) -> Option<&'d mut Vec<Value>> {
    let mut node = document;
    for token in pointer.split('/').skip(1) {
        let key = token.replace("~1", "/").replace("~0", "~");
        node = match node {
            Value::Object(map) => map.entry(key).or_insert(Value::Null),
            Value::Array(items) => items.get_mut(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
        if node.is_null() {
            *node = Value::Object(Map::new());
        }
    }
    if !node.is_array() {
        *node = Value::Array(Vec::new());
    }
    node.as_array_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    /// A schema whose fields are declared out of alphabetical order.
    fn service() -> ContentType {
        let schema = r##"{
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"title": "Name", "type": "string", "x-localized": true},
                "body": {"type": "string", "x-markdown": true, "x-localized": true},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "keywords": {"type": "array", "items": {"type": "string"}, "x-localized": true},
                "topics": {"type": "array", "items": {"type": "string", "x-reference": "topic"}},
                "fees": {"type": "array", "items": {"$ref": "#/$defs/fee"}},
                "online": {"type": "boolean"}
            },
            "$defs": {"fee": {"type": "object", "properties": {
                "label": {"type": "string", "x-localized": true},
                "amount": {"type": "number"}
            }}}
        }"##;
        ContentType::from_schema_text("service", schema, Path::new("service")).unwrap()
    }

    /// The form as a browser posts it, unchanged.
    fn as_posted(form: &[FormField]) -> Posted {
        fn post(fields: &[FormField], pairs: &mut Vec<(String, String)>) {
            for f in fields {
                match f.widget {
                    Widget::Group | Widget::List => post(&f.children, pairs),
                    Widget::Checkboxes => pairs.extend(f.chosen.iter().map(|c| (f.pointer.clone(), c.clone()))),
                    _ => pairs.push((f.pointer.clone(), f.value.replace('\n', "\r\n"))),
                }
            }
        }
        let mut pairs = Vec::new();
        post(form, &mut pairs);
        Posted::new(pairs)
    }

    /// Every sample entry, in every locale, comes back unchanged from its
    /// form: nothing is lost by opening an entry and saving it.
    #[test]
    fn every_sample_entry_survives_its_form_unchanged() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let registry = crate::content::Registry::load_dir(&root.join("schemas")).unwrap();
        let references = ReferenceChoices::new();
        let mut checked = 0;
        for content_type in registry.iter() {
            let folder = root.join("content").join(&content_type.name);
            let Ok(files) = std::fs::read_dir(&folder) else { continue };
            for file in files {
                let path = file.unwrap().path();
                let name = path.file_name().unwrap().to_str().unwrap().to_owned();
                let locale_code = name.trim_end_matches(".md").split_once('.').map_or("de", |(_, code)| code);
                let locale = crate::content::Locale::parse(locale_code).unwrap();
                let bytes = std::fs::read(&path).unwrap();
                let Ok(parsed) = crate::content::file_format::parse(&bytes, content_type, locale) else { continue };
                let source = if locale.is_source() { None } else { Some(&parsed.document) };
                let form = fields(content_type, &parsed.document, &FormContext { errors: &[], source, references: &references });
                let (mut read_back, problems) = read(content_type, &as_posted(&form), !locale.is_source());
                without_empty_items(&mut read_back, !locale.is_source());
                assert!(problems.is_empty(), "{name}: {problems:?}");
                assert_eq!(read_back, parsed.document, "{name}");
                checked += 1;
            }
        }
        assert!(checked > 50, "only {checked} sample files were checked");
    }

    fn posted(pairs: &[(&str, &str)]) -> Posted {
        Posted::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn a_posted_form_becomes_the_document_it_shows() {
        let ct = service();
        let document = json!({
            "name": "Personalausweis",
            "body": "Erster Absatz\n\n- Punkt",
            "kind": "b",
            "keywords": ["Ausweis", "Perso"],
            "topics": ["umzug", "familie"],
            "fees": [{"label": "Gebühr", "amount": 37.0}, {"label": "Unter 24", "amount": 22.8}],
            "online": false
        });
        let references: ReferenceChoices = HashMap::from([("topic".to_owned(), vec![Choice { value: "umzug".into(), label: "Umzug".into() }])]);
        let form = fields(&ct, &document, &FormContext { errors: &[], source: None, references: &references });
        let (read_back, problems) = read(&ct, &as_posted(&form), false);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(read_back, document);
        let name = form.iter().find(|f| f.pointer == "/name").unwrap();
        assert!(name.required);
        assert_eq!(form.iter().find(|f| f.pointer == "/topics").unwrap().widget, Widget::Checkboxes);
        assert_eq!(form.iter().find(|f| f.pointer == "/body").unwrap().widget, Widget::Markdown);
    }

    #[test]
    fn unreadable_numbers_are_reported_at_their_field() {
        let (document, problems) = read(&service(), &posted(&[("/fees/0/amount", "zwölf"), ("/fees/0/label", "Gebühr"), ("/name", " ")]), false);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].pointer, "/fees/0/amount");
        assert_eq!(document, json!({"fees": [{"label": "Gebühr"}]}));
        let (document, _) = read(&service(), &posted(&[("/fees/0/amount", "12,50")]), false);
        assert_eq!(document, json!({"fees": [{"amount": 12.5}]}));
    }

    #[test]
    fn lists_grow_and_shrink_and_empty_items_are_not_saved() {
        let mut document = json!({"name": "x"});
        assert!(apply_list_action(&mut document, "add:/fees"));
        assert!(apply_list_action(&mut document, "add:/fees"));
        assert_eq!(document["fees"].as_array().unwrap().len(), 2);
        document["fees"][1] = json!({"amount": 3});
        assert!(apply_list_action(&mut document, "remove:/fees/0"));
        assert_eq!(document["fees"], json!([{"amount": 3}]));
        assert!(!apply_list_action(&mut document, "remove:/fees/7"));
        assert!(!apply_list_action(&mut document, "drop:/fees"));
        let (mut read_back, _) = read(&service(), &posted(&[("/name", "x"), ("/fees/0/label", ""), ("/fees/1/amount", "")]), false);
        assert_eq!(read_back["fees"], json!([{}, {}]), "empty items stay while editing");
        without_empty_items(&mut read_back, false);
        assert_eq!(read_back, json!({"name": "x"}));
    }

    #[test]
    fn a_translation_shows_only_localised_fields_beside_the_german() {
        let ct = service();
        let source = json!({"name": "Personalausweis", "kind": "a", "fees": [{"label": "Gebühr", "amount": 37}, {"label": "Ermäßigt", "amount": 22}]});
        let translation = json!({"name": "Identity card"});
        let references = ReferenceChoices::new();
        let form = fields(&ct, &translation, &FormContext { errors: &[], source: Some(&source), references: &references });
        let pointers: Vec<&str> = form.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(pointers, ["/name", "/body", "/keywords", "/fees"]);
        assert_eq!(form[0].source.as_deref(), Some("Personalausweis"));
        let fees = &form[3];
        assert_eq!(fees.children.len(), 2, "one item per German item");
        assert!(!fees.growable);
        assert_eq!(fees.children[1].children[0].source.as_deref(), Some("Ermäßigt"));
        assert_eq!(fees.children[1].children.len(), 1, "the amount comes from the German source");
        let (mut document, _) = read(&ct, &posted(&[("/name", "Identity card"), ("/fees/1/label", "Reduced")]), true);
        without_empty_items(&mut document, true);
        assert_eq!(document, json!({"name": "Identity card", "fees": [{}, {"label": "Reduced"}]}));
    }

    #[test]
    fn places_are_named_in_the_schemas_words() {
        let ct = service();
        assert_eq!(label_of(&ct, "/name"), "Name");
        assert_eq!(label_of(&ct, "/fees/1/amount"), "fees 2 › amount");
        assert_eq!(label_of(&ct, "/_slug"), "slug");
    }

    #[test]
    fn errors_are_shown_at_their_field() {
        let ct = service();
        let errors = [Violation { pointer: "/fees/0/amount".into(), message: "must be at least 0".into(), missing: false }];
        let references = ReferenceChoices::new();
        let form = fields(&ct, &json!({"fees": [{"amount": -1}]}), &FormContext { errors: &errors, source: None, references: &references });
        let amount = &form.iter().find(|f| f.pointer == "/fees").unwrap().children[0].children[1];
        assert_eq!(amount.pointer, "/fees/0/amount");
        assert_eq!(amount.error.as_deref(), Some("must be at least 0"));
        assert_eq!(amount.widget, Widget::Number);
    }
}
