//! Content types: one JSON Schema (2020-12) file per type in `schemas/`.
//!
//! The schema is the single source of what a type has. Rust code reads the
//! `x-` annotations (documented in `schemas/README.md`) from it instead of
//! repeating field lists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::Locale;
use super::audience::{Audience, CHANNELS, RestrictedField};
use super::key_order::KeyOrder;

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot read the schema folder {path}: {source}")]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: not valid JSON: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("{path}: not a valid JSON Schema: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Annotation { path: PathBuf, message: String },
    #[error("no content types found in {0}")]
    Empty(PathBuf),
}

/// One step into a document: an object key or "any element of a list".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Key(String),
    AnyIndex,
}

/// A place in a document where a value refers to an entry of another type.
#[derive(Clone, Debug)]
pub struct ReferenceSite {
    pub path: Vec<Step>,
    pub target_type: String,
}

/// A Markdown field that lives in the body of an editorial file under a
/// level-2 heading.
#[derive(Clone, Debug)]
pub struct Section {
    pub field: String,
    headings: BTreeMap<String, String>,
}

impl Section {
    /// The heading in the given locale, falling back to German.
    pub fn heading(&self, locale: Locale) -> Option<&str> {
        self.headings.get(locale.code()).or_else(|| self.headings.get(Locale::SOURCE.code())).map(String::as_str)
    }
}

/// The external key (`x-external-key`) that holds a service's LeiKa key.
const LEIKA_KEY: &str = "leika";

/// A content type loaded from its schema file.
pub struct ContentType {
    pub name: String,
    pub schema: Value,
    validator: jsonschema::Validator,
    /// The field that holds the text before the first heading of the body.
    pub lead_field: Option<String>,
    /// What an entry shows when another entry expands a reference to it.
    pub expand_fields: Vec<String>,
    /// Top-level fields that hold Markdown.
    pub markdown_fields: Vec<String>,
    pub sections: Vec<Section>,
    pub references: Vec<ReferenceSite>,
    /// Top-level fields mirrored into indexed columns, keyed by column name.
    pub external_keys: BTreeMap<String, String>,
    /// The order the schema file declares its keys in (forms follow it).
    pub key_order: KeyOrder,
    /// Fields meant only for some channels (`x-channels`).
    pub restricted: Vec<RestrictedField>,
}

impl std::fmt::Debug for ContentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentType").field("name", &self.name).finish_non_exhaustive()
    }
}

/// A schema violation found in a document, located by JSON pointer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub pointer: String,
    pub message: String,
    /// A required value is absent (drafts may have such gaps).
    pub missing: bool,
}

impl ContentType {
    /// A content type from its schema file's text, keeping the order of its keys.
    pub fn from_schema_text(name: &str, text: &str, path: &Path) -> Result<ContentType, SchemaError> {
        let json_error = |source| SchemaError::Json { path: path.to_owned(), source };
        let schema: Value = serde_json::from_str(text).map_err(json_error)?;
        let mut content_type = ContentType::from_schema(name, schema, path)?;
        content_type.key_order = KeyOrder::of_json(text).map_err(json_error)?;
        Ok(content_type)
    }

    pub fn from_schema(name: &str, schema: Value, path: &Path) -> Result<ContentType, SchemaError> {
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| SchemaError::Invalid { path: path.to_owned(), message: e.to_string() })?;
        let annotation_error = |message: String| SchemaError::Annotation { path: path.to_owned(), message };
        let walker = SchemaWalker::new(&schema);
        let string_annotation = |key: &str| schema.get(key).and_then(Value::as_str).map(str::to_owned);

        let mut sections = Vec::new();
        let mut external_keys = BTreeMap::new();
        for (field, node) in walker.properties(&schema) {
            let node = walker.resolve(node);
            if let Some(headings) = node.get("x-section") {
                let headings: BTreeMap<String, String> = serde_json::from_value(headings.clone())
                    .map_err(|_| annotation_error(format!("x-section of `{field}` must map locale codes to headings")))?;
                if !headings.contains_key(Locale::SOURCE.code()) {
                    return Err(annotation_error(format!("x-section of `{field}` needs a German (`de`) heading")));
                }
                sections.push(Section { field: field.clone(), headings });
            }
            if let Some(column) = node.get("x-external-key").and_then(Value::as_str) {
                external_keys.insert(column.to_owned(), field.clone());
            }
        }
        let lead_field = string_annotation("x-lead-section");
        if let Some(lead) = &lead_field
            && !walker.properties(&schema).any(|(field, _)| field == lead)
        {
            return Err(annotation_error(format!("x-lead-section names `{lead}`, which is not a property")));
        }
        let expand_fields: Vec<String> = match schema.get("x-expand") {
            None => Vec::new(),
            Some(list) => serde_json::from_value(list.clone()).map_err(|_| annotation_error("x-expand must be a list of field names".into()))?,
        };
        if let Some(unknown) = expand_fields.iter().find(|f| !walker.properties(&schema).any(|(field, _)| field == *f)) {
            return Err(annotation_error(format!("x-expand names `{unknown}`, which is not a property")));
        }
        let markdown_fields = walker
            .properties(&schema)
            .filter(|(_, node)| walker.resolve(node).get("x-markdown").and_then(Value::as_bool) == Some(true))
            .map(|(field, _)| field.clone())
            .collect();
        let references = walker.references();
        let restricted = walker.restricted().map_err(annotation_error)?;
        Ok(ContentType {
            name: name.to_owned(),
            lead_field,
            expand_fields,
            markdown_fields,
            sections,
            references,
            external_keys,
            key_order: KeyOrder::default(),
            restricted,
            validator,
            schema,
        })
    }

    /// Checks a complete document against the schema. Every problem is
    /// reported with the JSON pointer of the value it is about.
    pub fn validate(&self, document: &Value) -> Vec<Violation> {
        let mut violations = Vec::new();
        for error in self.validator.iter_errors(document) {
            let at = error.instance_path().to_string();
            match error.kind() {
                jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                    for key in unexpected {
                        violations.push(Violation {
                            pointer: format!("{at}/{}", escape_pointer(key)),
                            message: format!("unknown field `{key}`: the `{}` schema does not declare it", self.name),
                            missing: false,
                        });
                    }
                }
                jsonschema::error::ValidationErrorKind::Required { property } => {
                    let key = property.as_str().unwrap_or_default();
                    violations.push(Violation {
                        pointer: format!("{at}/{}", escape_pointer(key)),
                        message: format!("required field `{key}` is missing"),
                        missing: true,
                    });
                }
                _ => violations.push(Violation { pointer: at, message: error.to_string(), missing: false }),
            }
        }
        violations.sort_by(|a, b| a.pointer.cmp(&b.pointer).then(a.message.cmp(&b.message)));
        violations.dedup();
        violations
    }

    /// The section a heading names. Case and Unicode normalisation do not
    /// matter (`## ZUSTÄNDIGE STELLE`, decomposed umlauts from some editors).
    pub fn section_for_heading(&self, locale: Locale, heading: &str) -> Option<&Section> {
        let wanted = comparable(heading);
        self.sections.iter().find(|s| s.heading(locale).is_some_and(|h| comparable(h) == wanted))
    }

    pub fn is_section_field(&self, field: &str) -> bool {
        self.sections.iter().any(|s| s.field == field)
    }

    /// The LeiKa key of a document: the value of the field marked
    /// `x-external-key: leika`.
    pub fn leika<'d>(&self, document: &'d Value) -> Option<&'d str> {
        document.get(self.external_keys.get(LEIKA_KEY)?)?.as_str()
    }

    /// The field that names an entry (`x-title-field`, else `name`).
    pub fn title_field(&self) -> &str {
        self.schema.get("x-title-field").and_then(Value::as_str).unwrap_or("name")
    }

    pub fn walker(&self) -> SchemaWalker<'_> {
        SchemaWalker::new(&self.schema)
    }

    /// Removes the fields `audience` may not see (see [`super::audience`]).
    pub fn hide_from(&self, audience: Audience, document: &mut Value) {
        for field in self.restricted.iter().filter(|f| !f.is_visible_to(audience)) {
            super::audience::remove(document, &field.path);
        }
    }

    /// Top-level fields that channels require (`x-required-by`) but
    /// `document` leaves out or empty, each with the channels requiring it.
    pub fn channel_gaps<'c>(&'c self, document: &Value) -> impl Iterator<Item = (&'c str, Vec<&'c str>)> {
        let walker = self.walker();
        walker.properties(&self.schema).filter_map(move |(field, node)| {
            let channels: Vec<&str> = walker.annotation(node, "x-required-by")?.as_array()?.iter().filter_map(Value::as_str).collect();
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

    /// The top-level fields `channel` requires that `document` leaves out or empty.
    pub fn missing_for(&self, channel: &str, document: &Value) -> Vec<&str> {
        self.channel_gaps(document).filter(|(_, channels)| channels.contains(&channel)).map(|(field, _)| field).collect()
    }

    /// Whether `audience` sees every field of this type.
    pub fn shows_all_to(&self, audience: Audience) -> bool {
        self.restricted.iter().all(|f| f.is_visible_to(audience))
    }
}

/// Navigates a schema along document paths, resolving local `$ref`s and
/// looking into `allOf`/`anyOf`/`oneOf`/`if`/`then`/`else` branches.
#[derive(Clone, Copy)]
pub struct SchemaWalker<'s> {
    root: &'s Value,
}

const BRANCH_KEYWORDS: [&str; 3] = ["allOf", "anyOf", "oneOf"];
const CONDITIONAL_KEYWORDS: [&str; 3] = ["if", "then", "else"];

impl<'s> SchemaWalker<'s> {
    pub fn new(root: &'s Value) -> Self {
        SchemaWalker { root }
    }

    /// An annotation of a node: its own, or that of the schema its `$ref`
    /// leads to (a keyword beside `$ref` wins).
    pub fn annotation(&self, mut node: &'s Value, key: &str) -> Option<&'s Value> {
        for _ in 0..32 {
            if let Some(value) = node.get(key) {
                return Some(value);
            }
            let pointer = node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#'))?;
            node = self.root.pointer(pointer)?;
        }
        None
    }

    pub fn resolve(&self, mut node: &'s Value) -> &'s Value {
        // Bounded: a cycle of `$ref`s must not hang an import.
        for _ in 0..32 {
            match node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
                Some(pointer) => match self.root.pointer(pointer) {
                    Some(target) => node = target,
                    None => return node,
                },
                None => return node,
            }
        }
        node
    }

    fn branches(&self, node: &'s Value) -> impl Iterator<Item = &'s Value> + use<'s> {
        let walker = *self;
        let node = walker.resolve(node);
        let lists = BRANCH_KEYWORDS.into_iter().filter_map(move |k| node.get(k).and_then(Value::as_array)).flatten();
        let conditionals = CONDITIONAL_KEYWORDS.into_iter().filter_map(move |k| node.get(k));
        lists.chain(conditionals).map(move |n| walker.resolve(n))
    }

    /// All declared properties of an object schema, including those of
    /// its combinator branches.
    pub fn properties(&self, node: &'s Value) -> impl Iterator<Item = (&'s String, &'s Value)> + use<'s> {
        let node = self.resolve(node);
        let own = node.get("properties").and_then(Value::as_object).into_iter().flatten();
        let nested: Vec<(&'s String, &'s Value)> =
            self.branches(node).flat_map(|b| b.get("properties").and_then(Value::as_object).into_iter().flatten()).collect();
        own.chain(nested)
    }

    pub fn property(&self, node: &'s Value, key: &str) -> Option<&'s Value> {
        self.properties(node).find(|(k, _)| k.as_str() == key).map(|(_, v)| self.resolve(v))
    }

    pub fn items(&self, node: &'s Value) -> Option<&'s Value> {
        let node = self.resolve(node);
        node.get("items").or_else(|| self.branches(node).find_map(|b| b.get("items"))).map(|items| self.resolve(items))
    }

    /// Calls `visit` with every node reachable along document paths
    /// (properties and list items, through `$ref`s and combinators) and its
    /// path; bounded in depth, so a recursive schema ends.
    fn walk<E>(&self, node: &'s Value, path: &mut Vec<Step>, depth: usize, visit: &mut impl FnMut(&'s Value, &[Step]) -> Result<(), E>) -> Result<(), E> {
        if depth > 16 {
            return Ok(());
        }
        visit(node, path)?;
        let mut seen = Vec::new();
        for (key, child) in self.properties(node) {
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            path.push(Step::Key(key.clone()));
            self.walk(child, path, depth + 1, visit)?;
            path.pop();
        }
        if let Some(items) = self.items(node) {
            path.push(Step::AnyIndex);
            self.walk(items, path, depth + 1, visit)?;
            path.pop();
        }
        Ok(())
    }

    /// Where documents refer to other entries (`x-reference`).
    fn references(&self) -> Vec<ReferenceSite> {
        let mut found = Vec::new();
        let _ = self.walk(self.root, &mut Vec::new(), 0, &mut |node, path| {
            if let Some(target) = self.annotation(node, "x-reference").and_then(Value::as_str) {
                found.push(ReferenceSite { path: path.to_vec(), target_type: target.to_owned() });
            }
            Ok::<(), std::convert::Infallible>(())
        });
        found
    }

    /// Fields meant only for some channels (`x-channels`).
    fn restricted(&self) -> Result<Vec<RestrictedField>, String> {
        let mut found = Vec::new();
        self.walk(self.root, &mut Vec::new(), 0, &mut |node, path| -> Result<(), String> {
            let Some(listed) = self.annotation(node, "x-channels") else { return Ok(()) };
            let field = RestrictedField { path: path.to_vec(), channels: Vec::new() };
            let channels: Vec<String> = listed
                .as_array()
                .map(|list| list.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .filter(|list: &Vec<String>| !list.is_empty() && list.iter().all(|c| CHANNELS.contains(&c.as_str())))
                .ok_or_else(|| format!("x-channels of `{}` must list some of the channels {}", field.pointer(), CHANNELS.join(", ")))?;
            found.push(RestrictedField { channels, ..field });
            Ok(())
        })?;
        Ok(found)
    }
}

fn comparable(heading: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    heading.trim().nfc().collect::<String>().to_lowercase()
}

pub fn escape_pointer(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) { key.replace('~', "~0").replace('/', "~1").into() } else { key.into() }
}

/// All content types, by name.
#[derive(Debug, Default)]
pub struct Registry {
    types: BTreeMap<String, Arc<ContentType>>,
}

impl Registry {
    /// Loads every `<type>.schema.json` in a folder.
    pub fn load_dir(dir: &Path) -> Result<Registry, SchemaError> {
        let entries = std::fs::read_dir(dir).map_err(|source| SchemaError::Folder { path: dir.to_owned(), source })?;
        let mut types = BTreeMap::new();
        for entry in entries {
            let path = entry.map_err(|source| SchemaError::Folder { path: dir.to_owned(), source })?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".schema.json")) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(|source| SchemaError::Read { path: path.clone(), source })?;
            let content_type = ContentType::from_schema_text(name, &text, &path)?;
            types.insert(name.to_owned(), Arc::new(content_type));
        }
        if types.is_empty() {
            return Err(SchemaError::Empty(dir.to_owned()));
        }
        let registry = Registry { types };
        registry.check_reference_targets(dir)?;
        super::known_fields::check(&registry, dir)?;
        Ok(registry)
    }

    fn check_reference_targets(&self, dir: &Path) -> Result<(), SchemaError> {
        for content_type in self.types.values() {
            for site in &content_type.references {
                if !self.types.contains_key(&site.target_type) {
                    return Err(SchemaError::Annotation {
                        path: dir.join(format!("{}.schema.json", content_type.name)),
                        message: format!("x-reference names the unknown type `{}`", site.target_type),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Arc<ContentType>> {
        self.types.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<ContentType>> {
        self.types.values()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }
}
