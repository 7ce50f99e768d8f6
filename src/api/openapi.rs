//! The served OpenAPI document: poem-openapi's generated document plus the
//! content types, whose JSON Schemas are data and so unknown at compile
//! time. Each type gets `<Type>Fields` (what the public reads: internal
//! fields left out), `<Type>Entry`, `<Type>EntryList` and its own paths.

use serde_json::{Value, json};

use crate::content::Registry;
use crate::content::audience::Audience;

/// Merges the content types into the generated document. The result is
/// OpenAPI 3.1, whose Schema Object is JSON Schema 2020-12 like ours.
pub fn with_content_types(generated: &str, registry: &Registry) -> Value {
    let mut spec: Value = serde_json::from_str(generated).unwrap_or_else(|_| json!({}));
    spec["openapi"] = json!("3.1.0");
    crate::http::grouped::expand_placeholders(&mut spec);
    let mut schemas = spec.pointer("/components/schemas").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut paths = spec.get("paths").and_then(Value::as_object).cloned().unwrap_or_default();
    let generic_get = paths.get("/api/v1/{content_type}/{id_or_slug}").cloned();
    let generic_list = paths.get("/api/v1/{content_type}").cloned();

    for content_type in registry.iter() {
        let prefix = type_component_name(&content_type.name);
        let fields_name = format!("{prefix}Fields");
        let mut schema = content_type.schema.clone();
        drop_internal_properties(&mut schema);
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

        let entry_name = format!("{prefix}Entry");
        let list_name = format!("{prefix}EntryList");
        schemas.insert(
            entry_name.clone(),
            json!({"allOf": [
                {"$ref": "#/components/schemas/Entry"},
                {"type": "object", "properties": {"fields": {"$ref": format!("#/components/schemas/{fields_name}")}}}
            ]}),
        );
        schemas.insert(
            list_name.clone(),
            json!({"allOf": [
                {"$ref": "#/components/schemas/EntryList"},
                {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{entry_name}")}}}}
            ]}),
        );
        let entry_schema = json!({"$ref": format!("#/components/schemas/{entry_name}")});
        let list_schema = json!({"$ref": format!("#/components/schemas/{list_name}")});
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
    annotate_refs_in_place(&mut spec);
    spec
}

/// Leaves out of a type's schema the fields no public reader gets
/// (`x-channels` without a public channel), as the delivery API leaves
/// them out of its documents.
fn drop_internal_properties(schema: &mut Value) {
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let internal = |node: &Value| {
        let target = node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")).and_then(|name| defs.get(name));
        [Some(node), target].into_iter().flatten().filter_map(|n| n.get("x-channels")).any(|listed| !Audience::Public.sees_listed(listed))
    };
    drop_properties_where(schema, &internal);
}

fn drop_properties_where(node: &mut Value, drop: &impl Fn(&Value) -> bool) {
    match node {
        Value::Object(map) => {
            let dropped: Vec<String> = map
                .get("properties")
                .and_then(Value::as_object)
                .map(|properties| properties.iter().filter(|(_, child)| drop(child)).map(|(name, _)| name.clone()).collect())
                .unwrap_or_default();
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                properties.retain(|name, _| !dropped.contains(name));
            }
            if let Some(Value::Array(required)) = map.get_mut("required") {
                required.retain(|name| !name.as_str().is_some_and(|name| dropped.iter().any(|d| d == name)));
            }
            map.values_mut().for_each(|child| drop_properties_where(child, drop));
        }
        Value::Array(items) => items.iter_mut().for_each(|child| drop_properties_where(child, drop)),
        _ => {}
    }
}

/// Keywords that only describe: beside a `$ref` they change no meaning.
const ANNOTATIONS: [&str; 8] = ["description", "title", "default", "deprecated", "readOnly", "writeOnly", "example", "examples"];

/// poem-openapi wraps a documented reference as `allOf: [{$ref}, {description}]`
/// (OpenAPI 3.0 ignored a `$ref`'s siblings). OpenAPI 3.1 allows them,
/// and client generators trip over the wrapper, so the description goes
/// beside the `$ref`.
fn annotate_refs_in_place(node: &mut Value) {
    match node {
        Value::Object(map) => {
            map.values_mut().for_each(annotate_refs_in_place);
            let Some(Value::Array(parts)) = map.get("allOf") else { return };
            let (refs, rest): (Vec<&Value>, Vec<&Value>) = parts.iter().partition(|part| part.get("$ref").is_some());
            let only_annotations = |part: &&Value| part.as_object().is_some_and(|o| o.keys().all(|k| ANNOTATIONS.contains(&k.as_str())));
            if refs.len() != 1 || refs[0].as_object().is_some_and(|o| o.len() != 1) || !rest.iter().all(only_annotations) {
                return;
            }
            let reference = refs[0]["$ref"].clone();
            let annotations: Vec<(String, Value)> = rest.iter().filter_map(|part| part.as_object()).flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
            map.remove("allOf");
            map.insert("$ref".to_owned(), reference);
            for (key, value) in annotations {
                map.entry(key).or_insert(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(annotate_refs_in_place),
        _ => {}
    }
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
