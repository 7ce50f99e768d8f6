//! Forms made from a content type's JSON Schema, and documents read back
//! from what the browser posts. A new type in `schemas/` gets a working
//! form without code: every value is named by its JSON pointer
//! (`/fees/0/amount`), so reading a post back walks the same schema.
//!
//! Lists of objects grow and shrink with "add" and "remove" buttons that
//! post the form and show it again; that works without JavaScript.
//!
//! A post is read within bounds: at most [`MAX_VALUES`] values, names of
//! at most [`MAX_NAME_BYTES`], and every name and list action a place the
//! schema has, at most [`MAX_DEPTH`] deep, with list items numbered from
//! 0 without gaps. Anything else is a [`FormError`], never a crash or an
//! allocation the post chose.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::content::key_order::KeyOrder;
use crate::content::schema::{SchemaWalker, escape_pointer};
use crate::content::{ContentType, Violation};

/// Most values one post may carry. The largest form the schemas make (an
/// office's week of opening hours) has a few hundred; reference
/// checkboxes add at most one per entry offered.
pub const MAX_VALUES: usize = 20_000;
/// Longest input name or list action target.
pub const MAX_NAME_BYTES: usize = 256;
/// Deepest place a name may point to; the schemas nest a few levels.
pub const MAX_DEPTH: usize = 16;

/// A post no form of the UI makes.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the form has more than {MAX_VALUES} values")]
    TooManyValues,
    #[error("a name in the form is longer than {MAX_NAME_BYTES} bytes")]
    NameTooLong,
    #[error("`{0}` is deeper than {MAX_DEPTH} levels")]
    TooDeep(String),
    #[error("`{0}` is no field of this form")]
    NoSuchField(String),
    #[error("`{0}` is no item of its list: items are numbered from 0 without gaps")]
    NoSuchItem(String),
    #[error("`{0}` is no list that grows")]
    NotAList(String),
    #[error("`{0}` is no step of this form")]
    UnknownAction(String),
}

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
                            let mut item =
                                self.field(declared_items.unwrap_or(items), &items_at, values.get(index).unwrap_or(&Value::Null), item_source, &item_pointer);
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
#[derive(Debug)]
pub struct Posted {
    values: BTreeMap<String, Vec<String>>,
}

impl Posted {
    /// A form body (`application/x-www-form-urlencoded`), read value by
    /// value and refused at the first one beyond the bounds.
    pub fn from_body(body: &[u8]) -> Result<Posted, FormError> {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (count, (name, value)) in form_urlencoded::parse(body).enumerate() {
            if count == MAX_VALUES {
                return Err(FormError::TooManyValues);
            }
            if name.len() > MAX_NAME_BYTES {
                return Err(FormError::NameTooLong);
            }
            values.entry(name.into_owned()).or_default().push(value.into_owned());
        }
        Ok(Posted { values })
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
            .filter_map(|(name, _)| list_index(name[prefix.len()..].split('/').next()?))
            .collect()
    }

    /// Refuses names of the document that are no place of the schema, and
    /// list items that do not count up from 0 (each name is one item, so
    /// no post makes more items than it has values).
    fn check_names(&self, content_type: &ContentType) -> Result<(), FormError> {
        let mut lists: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        for name in self.values.keys().filter(|name| name.starts_with('/')) {
            for step in place(content_type, name)?.0 {
                if let Step::Index { list, index } = step {
                    lists.entry(list).or_default().insert(index);
                }
            }
        }
        for (list, indices) in lists {
            if let Some((_, &index)) = indices.iter().enumerate().find(|(position, index)| position != *index) {
                return Err(FormError::NoSuchItem(format!("{list}/{index}")));
            }
        }
        Ok(())
    }
}

/// A step of a name into the document: a property, or an item of the list
/// named by the name up to it.
#[derive(Debug)]
enum Step<'p> {
    Key(String),
    Index { list: &'p str, index: usize },
}

/// The steps of `pointer` into documents of `content_type` and the schema
/// of the value there; refused unless the schema has that place.
fn place<'s, 'p>(content_type: &'s ContentType, pointer: &'p str) -> Result<(Vec<Step<'p>>, &'s Value), FormError> {
    if pointer.len() > MAX_NAME_BYTES {
        return Err(FormError::NameTooLong);
    }
    let no_such_field = || FormError::NoSuchField(pointer.to_owned());
    let rest = pointer.strip_prefix('/').ok_or_else(no_such_field)?;
    let walker = content_type.walker();
    let mut node = walker.resolve(&content_type.schema);
    let mut steps = Vec::new();
    let mut end = 0;
    for token in rest.split('/') {
        if steps.len() == MAX_DEPTH {
            return Err(FormError::TooDeep(pointer.to_owned()));
        }
        let list = &pointer[..end];
        end += 1 + token.len();
        let step = match kind(node) {
            Kind::Object => {
                let key = token.replace("~1", "/").replace("~0", "~");
                node = walker.resolve(own_properties(node).find(|(k, _)| **k == key).ok_or_else(no_such_field)?.1);
                Step::Key(key)
            }
            Kind::Array if token.bytes().all(|b| b.is_ascii_digit()) => {
                let index = list_index(token).ok_or_else(|| FormError::NoSuchItem(pointer.to_owned()))?;
                node = walker.items(node).ok_or_else(no_such_field)?;
                Step::Index { list, index }
            }
            Kind::Array | Kind::Scalar(_) => return Err(no_such_field()),
        };
        steps.push(step);
    }
    Ok((steps, node))
}

/// A list index as the form writes it: decimal digits, no leading zero.
fn list_index(token: &str) -> Option<usize> {
    let canonical = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) && (token == "0" || !token.starts_with('0'));
    canonical.then(|| token.parse().ok()).flatten()
}

/// Whether values of `node` are lists whose items are groups of fields
/// (which the form shows one by one, to grow and shrink).
fn is_list_of_groups(walker: &SchemaWalker<'_>, node: &Value) -> bool {
    let node = walker.resolve(node);
    let Some(items) = (kind(node) == Kind::Array).then(|| walker.items(node)).flatten() else { return false };
    matches!(kind(items), Kind::Object | Kind::Array) && items.get("x-reference").is_none() && items.get("enum").is_none()
}

/// The document a posted form describes, and the values that could not be
/// read (a number that is not one), located like schema violations.
/// Empty inputs leave their field out; list items stay in place even when
/// empty, so that a form shown again keeps them (see [`without_empty_items`]).
/// A translation's items match the source's by position, as posted.
pub fn read(content_type: &ContentType, posted: &Posted) -> Result<(Value, Vec<Violation>), FormError> {
    posted.check_names(content_type)?;
    let reader = Reader { walker: content_type.walker(), posted };
    let mut problems = Vec::new();
    let document = reader.object(&content_type.schema, "", &mut problems).unwrap_or_else(|| Value::Object(Map::new()));
    Ok((document, problems))
}

struct Reader<'a> {
    walker: SchemaWalker<'a>,
    posted: &'a Posted,
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
        // No name reaches deeper (even where a schema refers to itself).
        if pointer.matches('/').count() > MAX_DEPTH {
            return None;
        }
        let node = self.walker.resolve(node);
        match kind(node) {
            Kind::Object => self.object(node, pointer, problems),
            Kind::Array => {
                let items = self.walker.items(node).unwrap_or(&Value::Null);
                let item_kind = kind(self.walker.resolve(items));
                let values: Vec<Value> = if is_list_of_groups(&self.walker, node) {
                    // The posted indices count up from 0 (see `check_names`).
                    self.posted
                        .indices(pointer)
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

/// A list change asked for by an "add" or "remove" button
/// (`add:<list>`, `remove:<list>/<index>`), applied to the document that
/// is shown again. Only lists the schema has, and items the list has.
pub fn apply_list_action(content_type: &ContentType, document: &mut Value, action: &str) -> Result<(), FormError> {
    if let Some(pointer) = action.strip_prefix("add:") {
        let (steps, node) = place(content_type, pointer)?;
        if !is_list_of_groups(&content_type.walker(), node) {
            return Err(FormError::NotAList(pointer.to_owned()));
        }
        list_at(document, &steps, pointer)?.push(Value::Object(Map::new()));
        return Ok(());
    }
    if let Some(pointer) = action.strip_prefix("remove:") {
        let (mut steps, _) = place(content_type, pointer)?;
        let Some(Step::Index { index, .. }) = steps.pop() else { return Err(FormError::NoSuchItem(pointer.to_owned())) };
        let items = list_at(document, &steps, pointer)?;
        if index >= items.len() {
            return Err(FormError::NoSuchItem(pointer.to_owned()));
        }
        items.remove(index);
        return Ok(());
    }
    Err(FormError::UnknownAction(action.chars().take(MAX_NAME_BYTES).collect()))
}

/// The list `steps` lead to, created (with its parent groups) when absent;
/// the items on the way must exist.
fn list_at<'d>(document: &'d mut Value, steps: &[Step<'_>], pointer: &str) -> Result<&'d mut Vec<Value>, FormError> {
    let no_such_item = || FormError::NoSuchItem(pointer.to_owned());
    let mut node = document;
    for step in steps {
        node = match (step, node) {
            (Step::Key(key), Value::Object(map)) => map.entry(key.clone()).or_insert_with(|| Value::Object(Map::new())),
            (Step::Index { index, .. }, Value::Array(items)) => items.get_mut(*index).ok_or_else(no_such_item)?,
            _ => return Err(no_such_item()),
        };
    }
    if node.is_null() || node.as_object().is_some_and(Map::is_empty) {
        *node = Value::Array(Vec::new());
    }
    node.as_array_mut().ok_or_else(|| FormError::NotAList(pointer.to_owned()))
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
        body_of(&pairs)
    }

    fn body_of<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Posted {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        Posted::from_body(body.as_bytes()).unwrap()
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
                let (mut read_back, problems) = read(content_type, &as_posted(&form)).unwrap();
                without_empty_items(&mut read_back, !locale.is_source());
                assert!(problems.is_empty(), "{name}: {problems:?}");
                assert_eq!(read_back, parsed.document, "{name}");
                checked += 1;
            }
        }
        assert!(checked > 50, "only {checked} sample files were checked");
    }

    fn posted(pairs: &[(&str, &str)]) -> Posted {
        body_of(pairs)
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
        let (read_back, problems) = read(&ct, &as_posted(&form)).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(read_back, document);
        let name = form.iter().find(|f| f.pointer == "/name").unwrap();
        assert!(name.required);
        assert_eq!(form.iter().find(|f| f.pointer == "/topics").unwrap().widget, Widget::Checkboxes);
        assert_eq!(form.iter().find(|f| f.pointer == "/body").unwrap().widget, Widget::Markdown);
    }

    #[test]
    fn unreadable_numbers_are_reported_at_their_field() {
        let (document, problems) = read(&service(), &posted(&[("/fees/0/amount", "zwölf"), ("/fees/0/label", "Gebühr"), ("/name", " ")])).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].pointer, "/fees/0/amount");
        assert_eq!(document, json!({"fees": [{"label": "Gebühr"}]}));
        let (document, _) = read(&service(), &posted(&[("/fees/0/amount", "12,50")])).unwrap();
        assert_eq!(document, json!({"fees": [{"amount": 12.5}]}));
    }

    #[test]
    fn lists_grow_and_shrink_and_empty_items_are_not_saved() {
        let ct = service();
        let mut document = json!({"name": "x"});
        apply_list_action(&ct, &mut document, "add:/fees").unwrap();
        apply_list_action(&ct, &mut document, "add:/fees").unwrap();
        assert_eq!(document["fees"].as_array().unwrap().len(), 2);
        document["fees"][1] = json!({"amount": 3});
        apply_list_action(&ct, &mut document, "remove:/fees/0").unwrap();
        assert_eq!(document["fees"], json!([{"amount": 3}]));
        let (mut read_back, _) = read(&ct, &posted(&[("/name", "x"), ("/fees/0/label", ""), ("/fees/1/amount", "")])).unwrap();
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
        let (mut document, _) = read(&ct, &posted(&[("/name", "Identity card"), ("/fees/0/label", ""), ("/fees/1/label", "Reduced")])).unwrap();
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

    #[test]
    fn list_actions_name_lists_and_items_the_schema_and_the_document_have() {
        let ct = service();
        let mut document = json!({"fees": [{"amount": 3}]});
        let refused = |action: &str| {
            let mut changed = document.clone();
            let error = apply_list_action(&ct, &mut changed, action).unwrap_err();
            assert_eq!(changed, document, "{action} changed nothing");
            error
        };
        assert_eq!(refused("remove:/fees/1"), FormError::NoSuchItem("/fees/1".into()));
        assert_eq!(refused("remove:/fees/01"), FormError::NoSuchItem("/fees/01".into()));
        assert_eq!(refused("remove:/fees/18446744073709551616"), FormError::NoSuchItem("/fees/18446744073709551616".into()));
        assert_eq!(refused("add:/fees/0/label"), FormError::NotAList("/fees/0/label".into()), "a text is no list");
        assert_eq!(refused("add:/gebuehren"), FormError::NoSuchField("/gebuehren".into()));
        assert_eq!(refused("add:/name/x"), FormError::NoSuchField("/name/x".into()));
        assert_eq!(refused("add:/keywords"), FormError::NotAList("/keywords".into()), "lines are no list of groups");
        assert_eq!(refused("add:"), FormError::NoSuchField("".into()));
        assert_eq!(refused("drop:/fees"), FormError::UnknownAction("drop:/fees".into()));
        assert_eq!(refused(&format!("add:{}", "/fees/0".repeat(100_000))), FormError::NameTooLong);
        assert_eq!(refused(&format!("add:{}", "/a".repeat(20))), FormError::NoSuchField("/a".repeat(20)));
        apply_list_action(&ct, &mut document, "remove:/fees/0").unwrap();
        assert_eq!(document, json!({"fees": []}));
    }

    #[test]
    fn names_are_places_of_the_schema_and_items_count_up_from_zero() {
        let ct = service();
        let read_error = |pairs: &[(&str, &str)]| read(&ct, &posted(pairs)).unwrap_err();
        assert_eq!(read_error(&[("/fees/100000/label", "x")]), FormError::NoSuchItem("/fees/100000".into()));
        assert_eq!(read_error(&[("/fees/0/label", "x"), ("/fees/2/label", "y")]), FormError::NoSuchItem("/fees/2".into()));
        assert_eq!(read_error(&[("/fees/00/label", "x")]), FormError::NoSuchItem("/fees/00/label".into()));
        assert_eq!(read_error(&[("/fees/+0/label", "x")]), FormError::NoSuchField("/fees/+0/label".into()));
        assert_eq!(read_error(&[("/fees/0/price", "x")]), FormError::NoSuchField("/fees/0/price".into()));
        assert_eq!(read_error(&[("/name/de", "x")]), FormError::NoSuchField("/name/de".into()));
        // The controls of the form are no places of the document.
        let (document, _) = read(&ct, &posted(&[("_csrf", "t"), ("_action", "add:/fees"), ("/fees/0/label", "a"), ("/fees/1/label", "b")])).unwrap();
        assert_eq!(document, json!({"fees": [{"label": "a"}, {"label": "b"}]}));
    }

    #[test]
    fn a_form_body_is_read_within_its_bounds() {
        let many = "a=1&".repeat(MAX_VALUES + 1);
        assert_eq!(Posted::from_body(many.as_bytes()).unwrap_err(), FormError::TooManyValues);
        assert!(Posted::from_body(&many.as_bytes()[4..]).is_ok());
        let long = format!("{}=1", "/a".repeat(MAX_NAME_BYTES));
        assert_eq!(Posted::from_body(long.as_bytes()).unwrap_err(), FormError::NameTooLong);
        let posted = Posted::from_body(b"_csrf=a%2Bb+c&%2Fname=Stra%C3%9Fe&%2Fname=zweiter&bad=%FF").unwrap();
        assert_eq!(posted.control("_csrf"), Some("a+b c"));
        assert_eq!(posted.control("/name"), Some("Straße"), "the first of repeated values");
        assert_eq!(posted.control("bad"), Some("\u{FFFD}"), "bytes that are no UTF-8 are replaced");
    }
}
