//! Query and header parameters an operation reads together (a page, a
//! reader's locale, the filters of a list) as one handler argument, while
//! the OpenAPI document still lists each parameter on its own.
//!
//! poem-openapi documents one parameter per argument. A group stands in
//! the generated document as one placeholder parameter that carries its
//! members; [`expand_placeholders`] replaces it with them.

use std::collections::HashMap;

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaParamIn, MetaSchema, MetaSchemaRef};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde_json::{Value, json};

use super::params::ParamError;
use super::problem::Problem;

/// Where a member of a group is read from.
#[derive(Clone, Copy, Debug)]
pub enum Place {
    Query,
    Header,
}

/// One parameter of a group, as the OpenAPI document shows it.
#[derive(Clone, Debug)]
pub struct Member {
    pub name: &'static str,
    pub place: Place,
    /// The JSON Schema of its value (`{"type": "string"}` and the like).
    pub schema: fn() -> Value,
    pub description: String,
    pub required: bool,
}

impl Member {
    pub fn query(name: &'static str, schema: fn() -> Value, description: impl Into<String>) -> Member {
        Member { name, place: Place::Query, schema, description: description.into(), required: false }
    }

    pub fn required(self) -> Member {
        Member { required: true, ..self }
    }

    pub fn header(name: &'static str, description: impl Into<String>) -> Member {
        Member { name, place: Place::Header, schema: string, description: description.into(), required: false }
    }

    fn documented(&self) -> Value {
        let place = match self.place {
            Place::Query => "query",
            Place::Header => "header",
        };
        json!({"name": self.name, "in": place, "required": self.required, "description": self.description, "schema": (self.schema)()})
    }
}

pub fn string() -> Value {
    json!({"type": "string"})
}

pub fn integer() -> Value {
    json!({"type": "integer"})
}

pub fn date_time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

/// What a group reads: the request's query parameters and headers.
pub struct Found<'r> {
    query: HashMap<String, String>,
    request: &'r Request,
}

impl Found<'_> {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// A query parameter parsed as `T`; a value that does not parse is a
    /// bad request naming the parameter.
    pub fn parsed<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ParamError>
    where
        T::Err: std::fmt::Display,
    {
        self.query(name).map(|raw| raw.parse::<T>().map_err(|error| ParamError::Malformed { name: name.to_owned(), reason: error.to_string() })).transpose()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.headers().get(name).and_then(|value| value.to_str().ok())
    }
}

/// Parameters read together.
pub trait ParamGroup: Sized + Send {
    /// Its members, in the order the document lists them.
    fn members() -> Vec<Member>;
    fn read(found: &Found<'_>) -> Result<Self, ParamError>;
}

/// A group as a handler argument.
pub struct Grouped<G>(pub G);

impl<G> std::ops::Deref for Grouped<G> {
    type Target = G;

    fn deref(&self) -> &G {
        &self.0
    }
}

/// The title that marks a placeholder in the generated document.
const PLACEHOLDER: &str = "x-katalog-parameter-group";

impl<'a, G: ParamGroup> ApiExtractor<'a> for Grouped<G> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    type ParamType = ();
    type ParamRawType = ();

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Query)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        let members: Vec<Value> = G::members().iter().map(Member::documented).collect();
        Some(MetaSchemaRef::Inline(Box::new(MetaSchema {
            title: Some(PLACEHOLDER.to_owned()),
            default: Some(Value::Array(members)),
            ..MetaSchema::new("object")
        })))
    }

    async fn from_request(request: &'a Request, _body: &mut RequestBody, _options: ExtractParamOptions<()>) -> poem::Result<Self> {
        let query = request.params::<HashMap<String, String>>().unwrap_or_default();
        let found = Found { query, request };
        G::read(&found).map(Grouped).map_err(|error| poem::Error::from_response(Problem::from(error).into_response()))
    }
}

/// Replaces each group's placeholder in the generated document with the
/// group's members.
pub fn expand_placeholders(spec: &mut Value) {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for operation in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
        let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
        let expanded = parameters
            .drain(..)
            .flat_map(|parameter| match parameter.pointer("/schema/title").and_then(Value::as_str) {
                Some(PLACEHOLDER) => parameter.pointer("/schema/default").and_then(Value::as_array).cloned().unwrap_or_default(),
                _ => vec![parameter],
            })
            .collect();
        *parameters = expanded;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pair {
        first: Option<u64>,
        second: Option<String>,
    }

    impl ParamGroup for Pair {
        fn members() -> Vec<Member> {
            vec![Member::query("first", integer, "The first."), Member::header("X-Second", "The second.")]
        }

        fn read(found: &Found<'_>) -> Result<Self, ParamError> {
            Ok(Pair { first: found.parsed("first")?, second: found.header("X-Second").map(str::to_owned) })
        }
    }

    #[tokio::test]
    async fn members_are_read_from_query_and_headers() {
        let request = Request::builder().uri(poem::http::Uri::from_static("/x?first=7&other=1")).header("X-Second", "two").finish();
        let Grouped(pair) = Grouped::<Pair>::from_request(&request, &mut RequestBody::default(), ExtractParamOptions::default()).await.unwrap();
        assert_eq!((pair.first, pair.second.as_deref()), (Some(7), Some("two")));
    }

    #[tokio::test]
    async fn a_malformed_member_is_a_bad_request_naming_it() {
        let request = Request::builder().uri(poem::http::Uri::from_static("/x?first=seven")).finish();
        let Err(error) = Grouped::<Pair>::from_request(&request, &mut RequestBody::default(), ExtractParamOptions::default()).await else {
            panic!("`seven` is no number")
        };
        let response = error.into_response();
        assert_eq!(response.status(), 400);
        let body = response.into_body().into_string().await.unwrap();
        assert!(body.contains("`first`"), "{body}");
    }

    #[test]
    fn the_placeholder_becomes_the_members() {
        let Some(MetaSchemaRef::Inline(schema)) = Grouped::<Pair>::param_schema_ref() else { panic!("inline placeholder") };
        let placeholder = json!({"name": "pair", "in": "query", "schema": serde_json::to_value(&*schema).unwrap()});
        let mut spec = json!({"paths": {"/x": {"get": {"parameters": [{"name": "kept", "in": "path"}, placeholder]}}}});
        expand_placeholders(&mut spec);
        let names: Vec<&str> = spec.pointer("/paths/~1x/get/parameters").unwrap().as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["kept", "first", "X-Second"]);
        assert_eq!(spec.pointer("/paths/~1x/get/parameters/2/in").unwrap(), "header");
    }
}
