//! The served OpenAPI document: poem-openapi's generated document plus the
//! content types, whose JSON Schemas are data and so unknown at compile
//! time. Each type gets a `<Type>Fields` schema and its own paths.

use serde_json::{Value, json};

use crate::content::Registry;

/// Merges the content types into the generated document. The result is
/// OpenAPI 3.1, whose Schema Object is JSON Schema 2020-12 like ours.
pub fn with_content_types(generated: &str, registry: &Registry) -> Value {
    let mut spec: Value = serde_json::from_str(generated).unwrap_or_else(|_| json!({}));
    spec["openapi"] = json!("3.1.0");
    let mut schemas = spec.pointer("/components/schemas").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut paths = spec.get("paths").and_then(Value::as_object).cloned().unwrap_or_default();
    let generic_get = paths.get("/api/v1/{content_type}/{id_or_slug}").cloned();
    let generic_list = paths.get("/api/v1/{content_type}").cloned();

    for content_type in registry.iter() {
        let prefix = type_component_name(&content_type.name);
        let fields_name = format!("{prefix}Fields");
        let mut schema = content_type.schema.clone();
        if let Some(Value::Object(defs)) = schema.as_object_mut().and_then(|s| s.remove("$defs")) {
            for (def_name, mut def) in defs {
                rewrite_refs(&mut def, &prefix);
                schemas.insert(format!("{prefix}_{def_name}"), def);
            }
        }
        if let Some(object) = schema.as_object_mut() {
            object.remove("$schema");
            object.remove("$id");
        }
        rewrite_refs(&mut schema, &prefix);
        schemas.insert(fields_name.clone(), schema);

        let entry_schema = json!({"allOf": [
            {"$ref": "#/components/schemas/Entry"},
            {"type": "object", "properties": {"fields": {"$ref": format!("#/components/schemas/{fields_name}")}}}
        ]});
        let list_schema = json!({"allOf": [
            {"$ref": "#/components/schemas/EntryList"},
            {"type": "object", "properties": {"items": {"type": "array", "items": entry_schema.clone()}}}
        ]});
        let label = content_type.schema.get("title").and_then(Value::as_str).unwrap_or(&content_type.name).to_owned();
        if let Some(get) = &generic_get {
            paths.insert(format!("/api/v1/{}/{{id_or_slug}}", content_type.name), specialise(get, &content_type.name, &label, entry_schema));
        }
        if let Some(list) = &generic_list {
            paths.insert(format!("/api/v1/{}", content_type.name), specialise(list, &content_type.name, &label, list_schema));
        }
    }
    for operation in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
        document_body_refusals(operation);
    }
    spec["components"]["schemas"] = Value::Object(schemas);
    spec["paths"] = Value::Object(paths);
    spec
}

/// Operations that take a body also answer 413 (over
/// [`crate::http::body::MAX_BODY_BYTES`], refused before any handler) and 415 (not
/// JSON, refused by the framework); the generated document knows neither.
fn document_body_refusals(operation: &mut Value) {
    if operation.get("requestBody").is_none() {
        return;
    }
    let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { return };
    let problem = json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    let refusals =
        [("413", format!("The body is larger than {} bytes.", crate::http::body::MAX_BODY_BYTES)), ("415", "The body is not `application/json`.".to_owned())];
    for (status, description) in refusals {
        responses.entry(status).or_insert_with(|| json!({"description": description, "content": problem.clone()}));
    }
}

/// A copy of a generic `{content_type}` operation for one type, with the
/// type's schema as the 200 response.
fn specialise(generic: &Value, type_name: &str, label: &str, response_schema: Value) -> Value {
    let mut item = generic.clone();
    if let Some(get) = item.get_mut("get") {
        if let Some(params) = get.get_mut("parameters").and_then(Value::as_array_mut) {
            params.retain(|p| p.get("name").and_then(Value::as_str) != Some("content_type"));
        }
        if let Some(id) = get.get("operationId").and_then(Value::as_str) {
            get["operationId"] = json!(format!("{id}_{type_name}"));
        }
        get["tags"] = json!([format!("Content: {type_name}")]);
        get["summary"] = json!(format!("{} ({label})", get.get("summary").and_then(Value::as_str).unwrap_or_default()));
        if let Some(content) = get.pointer_mut("/responses/200/content").and_then(Value::as_object_mut) {
            for media in content.values_mut() {
                media["schema"] = response_schema.clone();
            }
        }
    }
    item
}

fn type_component_name(name: &str) -> String {
    name.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

fn rewrite_refs(value: &mut Value, prefix: &str) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref")
                && let Some(def) = reference.strip_prefix("#/$defs/")
            {
                *reference = format!("#/components/schemas/{prefix}_{def}");
            }
            map.values_mut().for_each(|v| rewrite_refs(v, prefix));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, prefix)),
        _ => {}
    }
}
