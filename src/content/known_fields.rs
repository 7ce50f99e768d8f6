//! The fields Rust code names. Channels print them, so each name is
//! declared once here and checked against the schemas when they load: a
//! schema that renames one fails at start instead of blanking parts of
//! pages.

use std::path::Path;

use serde_json::Value;

use super::schema::{Registry, SchemaError, SchemaWalker};

pub mod service {
    pub const TYPE: &str = "service";
    pub const TEASER: &str = "teaser";
    pub const SHORT_TEXT: &str = "short_text";
    pub const PREREQUISITES: &str = "prerequisites";
    pub const FEES: &str = "fees";
    pub const DOCUMENTS: &str = "documents";
    pub const DEADLINES: &str = "deadlines";
    pub const PROCESSING_TIME: &str = "processing_time";
    pub const ONLINE_SERVICE: &str = "online_service";
    pub const RESPONSIBLE_OFFICES: &str = "responsible_offices";
    pub const TOPICS: &str = "topics";
    pub const RELATED_SERVICES: &str = "related_services";
    pub const KEYWORDS: &str = "keywords";
}

/// An entry of a service's `fees`.
pub mod fee {
    pub const KIND: &str = "kind";
    pub const LABEL: &str = "label";
    pub const AMOUNT: &str = "amount";
    pub const MIN: &str = "min";
    pub const MAX: &str = "max";
    pub const CURRENCY: &str = "currency";
    pub const NOTE: &str = "note";
}

/// An entry of a service's `documents`.
pub mod service_document {
    pub const DIRECTION: &str = "direction";
    pub const NAME: &str = "name";
    pub const DESCRIPTION: &str = "description";
    pub const MANDATORY: &str = "mandatory";
    pub const FORM_URL: &str = "form_url";
}

/// An entry of a service's `deadlines`, besides the fields of a time span.
pub mod deadline {
    pub const LABEL: &str = "label";
}

/// A service's `processing_time` or one of its `deadlines`.
pub mod time_span {
    pub const DURATION: &str = "duration";
    pub const DATES: &str = "dates";
    pub const NOTE: &str = "note";
}

/// The `duration` of a time span.
pub mod duration {
    pub const VALUE: &str = "value";
    pub const UNIT: &str = "unit";
    pub const UP_TO: &str = "up_to";
}

/// The `dates` of a time span.
pub mod dates {
    pub const FROM: &str = "from";
    pub const UNTIL: &str = "until";
}

/// An entry of a service's `responsible_offices`.
pub mod responsibility {
    pub const OFFICE: &str = "office";
    pub const ROLE: &str = "role";
    pub const NOTE: &str = "note";
}

/// A service's `online_service`.
pub mod online_service {
    pub const URL: &str = "url";
    pub const TITLE: &str = "title";
}

pub mod office {
    pub const TYPE: &str = "office";
    pub const DESCRIPTION: &str = "description";
    pub const ADDRESS: &str = "address";
    pub const GEO: &str = "geo";
    pub const PHONE: &str = "phone";
    pub const FAX: &str = "fax";
    pub const EMAIL: &str = "email";
    pub const WEB: &str = "web";
    pub const APPOINTMENT_URL: &str = "appointment_url";
    pub const OPENING_HOURS: &str = "opening_hours";
    pub const EXCEPTIONS: &str = "exceptions";
}

/// An office's `address`.
pub mod address {
    pub const STREET: &str = "street";
    pub const HOUSE_NUMBER: &str = "house_number";
    pub const POSTAL_CODE: &str = "postal_code";
    pub const CITY: &str = "city";
    pub const BUILDING: &str = "building";
}

/// An office's `geo`.
pub mod geo {
    pub const LAT: &str = "lat";
    pub const LON: &str = "lon";
}

/// A block of an office's `opening_hours`.
pub mod hours {
    pub const KIND: &str = "kind";
    pub const SLOTS: &str = "slots";
    pub const NOTE: &str = "note";
}

/// A time slot of opening hours or of an exception.
pub mod slot {
    pub const DAYS: &str = "days";
    pub const OPENS: &str = "opens";
    pub const CLOSES: &str = "closes";
}

/// An entry of an office's `exceptions`.
pub mod exception {
    pub const FROM: &str = "from";
    pub const UNTIL: &str = "until";
    pub const CLOSED: &str = "closed";
    pub const SLOTS: &str = "slots";
    pub const NOTE: &str = "note";
}

pub mod article {
    pub const TYPE: &str = "article";
    pub const SUMMARY: &str = "summary";
    pub const RELATED_OFFICES: &str = "related_offices";
    pub const RELATED_SERVICES: &str = "related_services";
}

pub mod topic {
    pub const TYPE: &str = "topic";
    pub const TEASER: &str = "teaser";
}

/// What a named field holds, as far as the code reading it cares.
#[derive(Clone, Copy, Debug)]
enum Shape {
    Text,
    Number,
    Flag,
    List,
    Object,
}

impl Shape {
    fn described(self) -> &'static str {
        match self {
            Shape::Text => "a string",
            Shape::Number => "a number",
            Shape::Flag => "a boolean",
            Shape::List => "an array",
            Shape::Object => "an object",
        }
    }

    fn allows(self, json_type: &str) -> bool {
        match self {
            Shape::Text => json_type == "string",
            Shape::Number => json_type == "number" || json_type == "integer",
            Shape::Flag => json_type == "boolean",
            Shape::List => json_type == "array",
            Shape::Object => json_type == "object",
        }
    }
}

/// Where a field sits in a document, by key; a step into a list goes to
/// its items.
type FieldPath = &'static [&'static str];

/// Every named field by type, with the shape the code expects there.
const NAMED: &[(&str, &[(FieldPath, Shape)])] = {
    use Shape::{Flag, List, Number, Object, Text};
    &[
        (
            service::TYPE,
            &[
                (&[service::TEASER], Text),
                (&[service::SHORT_TEXT], Text),
                (&[service::PREREQUISITES], Text),
                (&[service::FEES], List),
                (&[service::FEES, fee::KIND], Text),
                (&[service::FEES, fee::LABEL], Text),
                (&[service::FEES, fee::AMOUNT], Number),
                (&[service::FEES, fee::MIN], Number),
                (&[service::FEES, fee::MAX], Number),
                (&[service::FEES, fee::CURRENCY], Text),
                (&[service::FEES, fee::NOTE], Text),
                (&[service::DOCUMENTS], List),
                (&[service::DOCUMENTS, service_document::DIRECTION], Text),
                (&[service::DOCUMENTS, service_document::NAME], Text),
                (&[service::DOCUMENTS, service_document::DESCRIPTION], Text),
                (&[service::DOCUMENTS, service_document::MANDATORY], Flag),
                (&[service::DOCUMENTS, service_document::FORM_URL], Text),
                (&[service::DEADLINES], List),
                (&[service::DEADLINES, deadline::LABEL], Text),
                (&[service::PROCESSING_TIME], Object),
                (&[service::PROCESSING_TIME, time_span::DURATION], Object),
                (&[service::PROCESSING_TIME, time_span::DURATION, duration::VALUE], Number),
                (&[service::PROCESSING_TIME, time_span::DURATION, duration::UNIT], Text),
                (&[service::PROCESSING_TIME, time_span::DURATION, duration::UP_TO], Number),
                (&[service::PROCESSING_TIME, time_span::DATES], Object),
                (&[service::PROCESSING_TIME, time_span::DATES, dates::FROM], Text),
                (&[service::PROCESSING_TIME, time_span::DATES, dates::UNTIL], Text),
                (&[service::PROCESSING_TIME, time_span::NOTE], Text),
                (&[service::DEADLINES, time_span::DURATION], Object),
                (&[service::DEADLINES, time_span::DATES], Object),
                (&[service::DEADLINES, time_span::NOTE], Text),
                (&[service::ONLINE_SERVICE], Object),
                (&[service::ONLINE_SERVICE, online_service::URL], Text),
                (&[service::ONLINE_SERVICE, online_service::TITLE], Text),
                (&[service::RESPONSIBLE_OFFICES], List),
                (&[service::RESPONSIBLE_OFFICES, responsibility::OFFICE], Text),
                (&[service::RESPONSIBLE_OFFICES, responsibility::ROLE], Text),
                (&[service::RESPONSIBLE_OFFICES, responsibility::NOTE], Text),
                (&[service::TOPICS], List),
                (&[service::RELATED_SERVICES], List),
                (&[service::KEYWORDS], List),
            ],
        ),
        (
            office::TYPE,
            &[
                (&[office::DESCRIPTION], Text),
                (&[office::ADDRESS], Object),
                (&[office::ADDRESS, address::STREET], Text),
                (&[office::ADDRESS, address::HOUSE_NUMBER], Text),
                (&[office::ADDRESS, address::POSTAL_CODE], Text),
                (&[office::ADDRESS, address::CITY], Text),
                (&[office::ADDRESS, address::BUILDING], Text),
                (&[office::GEO], Object),
                (&[office::GEO, geo::LAT], Number),
                (&[office::GEO, geo::LON], Number),
                (&[office::PHONE], Text),
                (&[office::FAX], Text),
                (&[office::EMAIL], Text),
                (&[office::WEB], Text),
                (&[office::APPOINTMENT_URL], Text),
                (&[office::OPENING_HOURS], List),
                (&[office::OPENING_HOURS, hours::KIND], Text),
                (&[office::OPENING_HOURS, hours::NOTE], Text),
                (&[office::OPENING_HOURS, hours::SLOTS], List),
                (&[office::OPENING_HOURS, hours::SLOTS, slot::DAYS], List),
                (&[office::OPENING_HOURS, hours::SLOTS, slot::OPENS], Text),
                (&[office::OPENING_HOURS, hours::SLOTS, slot::CLOSES], Text),
                (&[office::EXCEPTIONS], List),
                (&[office::EXCEPTIONS, exception::FROM], Text),
                (&[office::EXCEPTIONS, exception::UNTIL], Text),
                (&[office::EXCEPTIONS, exception::CLOSED], Flag),
                (&[office::EXCEPTIONS, exception::NOTE], Text),
                (&[office::EXCEPTIONS, exception::SLOTS], List),
                (&[office::EXCEPTIONS, exception::SLOTS, slot::OPENS], Text),
                (&[office::EXCEPTIONS, exception::SLOTS, slot::CLOSES], Text),
            ],
        ),
        (article::TYPE, &[(&[article::SUMMARY], Text), (&[article::RELATED_OFFICES], List), (&[article::RELATED_SERVICES], List)]),
        (topic::TYPE, &[(&[topic::TEASER], Text)]),
    ]
};

/// Checks that every type the code names a field of declares it with the
/// shape the code reads. A type the registry lacks has no entries to show,
/// so it is not checked.
pub fn check(registry: &Registry, dir: &Path) -> Result<(), SchemaError> {
    for (type_name, fields) in NAMED {
        let Some(content_type) = registry.get(type_name) else { continue };
        let walker = content_type.walker();
        for (path, shape) in *fields {
            let field = path.join("/");
            let message = match find(walker, &content_type.schema, path) {
                None => format!("the channels read the field `{field}`, which this schema does not declare"),
                Some(node) if !has_shape(node, *shape) => {
                    format!("the channels read the field `{field}` as {}, which this schema does not allow", shape.described())
                }
                Some(_) => continue,
            };
            return Err(SchemaError::Annotation { path: dir.join(format!("{type_name}.schema.json")), message });
        }
    }
    Ok(())
}

/// The schema of the value at `path`, stepping into list items on the way.
fn find<'s>(walker: SchemaWalker<'s>, root: &'s Value, path: &[&str]) -> Option<&'s Value> {
    let mut node = root;
    for (i, key) in path.iter().enumerate() {
        if i > 0 && has_shape(node, Shape::List) {
            node = walker.items(node)?;
        }
        node = walker.property(node, key)?;
    }
    Some(node)
}

/// Whether a schema allows the shape; one that leaves the type open does.
fn has_shape(node: &Value, shape: Shape) -> bool {
    match node.get("type") {
        None => true,
        Some(Value::String(t)) => shape.allows(t),
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).any(|t| shape.allows(t)),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn schemas() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
    }

    /// A copy of the schemas with the office schema's text edited.
    fn with_office_schema(edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(schemas()).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
        let office = dir.path().join("office.schema.json");
        std::fs::write(&office, edit(std::fs::read_to_string(&office).unwrap())).unwrap();
        dir
    }

    #[test]
    fn the_schemas_declare_every_named_field() {
        Registry::load_dir(&schemas()).unwrap();
    }

    #[test]
    fn a_schema_renaming_a_named_field_does_not_load() {
        let dir = with_office_schema(|text| text.replace("\"opening_hours\"", "\"hours\""));
        let error = Registry::load_dir(dir.path()).unwrap_err().to_string();
        assert!(error.contains("office.schema.json") && error.contains("`opening_hours`"), "{error}");
    }

    #[test]
    fn a_named_field_of_another_shape_does_not_load() {
        let dir = with_office_schema(|text| {
            let mut schema: Value = serde_json::from_str(&text).unwrap();
            schema["properties"]["phone"] = serde_json::json!({ "type": "array", "items": { "type": "string" } });
            schema.to_string()
        });
        let error = Registry::load_dir(dir.path()).unwrap_err().to_string();
        assert!(error.contains("office.schema.json") && error.contains("the field `phone` as a string"), "{error}");
    }
}
