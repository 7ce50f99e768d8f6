//! The UI's templates, words and assets, compiled into the binary.

use std::collections::HashMap;
use std::sync::LazyLock;

use minijinja::{Environment, Value as TemplateValue, context};
use poem::web::Html;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use super::Lang;
use super::session::Editor;

const TEMPLATES: [(&str, &str); 10] = [
    ("layout.html", include_str!("templates/layout.html")),
    ("signin.html", include_str!("templates/signin.html")),
    ("list.html", include_str!("templates/list.html")),
    ("new.html", include_str!("templates/new.html")),
    ("edit.html", include_str!("templates/edit.html")),
    ("history.html", include_str!("templates/history.html")),
    ("error.html", include_str!("templates/error.html")),
    ("fields.html", include_str!("templates/fields.html")),
    ("problems.html", include_str!("templates/problems.html")),
    ("quality.html", include_str!("templates/quality.html")),
];

const WORDS: &str = include_str!("templates/words.toml");

pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "admin.css" => Some(("text/css; charset=utf-8", include_str!("templates/admin.css"))),
        "admin.js" => Some(("text/javascript; charset=utf-8", include_str!("templates/admin.js"))),
        _ => None,
    }
}

struct Pages {
    templates: Environment<'static>,
    words: HashMap<Lang, TemplateValue>,
}

static PAGES: LazyLock<Pages> = LazyLock::new(|| {
    let mut templates = crate::render::html_templates();
    for (name, source) in TEMPLATES {
        // The templates are part of the binary: a broken one fails the unit test below.
        if let Err(error) = templates.add_template(name, source) {
            tracing::error!(%error, "editor UI template {name} does not compile");
        }
    }
    let table: HashMap<String, HashMap<String, String>> = toml::from_str(WORDS).unwrap_or_default();
    let words =
        [Lang::De, Lang::En].into_iter().map(|lang| (lang, crate::render::template_value(&table.get(lang.code()).cloned().unwrap_or_default()))).collect();
    Pages { templates, words }
});

/// One word or message of the UI in `lang`, for handlers; templates read them as `t`.
pub fn word(lang: Lang, key: &str) -> String {
    PAGES.words.get(&lang).and_then(|words| words.get_attr(key).ok()).and_then(|w| w.as_str().map(str::to_owned)).unwrap_or_else(|| key.to_owned())
}

/// A page of the UI; `editor` is absent on the sign-in page.
pub fn render(template: &str, lang: Lang, editor: Option<&Editor>, page: TemplateValue) -> Result<Html<String>, minijinja::Error> {
    let pages = &*PAGES;
    let user = editor.map(|e| context! { name => e.principal.name.clone(), role => e.principal.role.code(), csrf => e.csrf.clone() });
    let context = context! { t => pages.words.get(&lang).cloned(), lang => lang.code(), user, ..page };
    pages.templates.get_template(template)?.render(context).map(Html)
}

/// Editor pages show drafts: no shared cache may keep them.
pub struct NoStore;

impl<E: Endpoint> Middleware<E> for NoStore {
    type Output = NoStoreEndpoint<E>;
    fn transform(&self, inner: E) -> Self::Output {
        NoStoreEndpoint(inner)
    }
}

pub struct NoStoreEndpoint<E>(E);

impl<E: Endpoint> Endpoint for NoStoreEndpoint<E> {
    type Output = Response;
    async fn call(&self, request: Request) -> poem::Result<Response> {
        let mut response = match self.0.call(request).await {
            Ok(output) => output.into_response(),
            Err(error) => error.into_response(),
        };
        let headers = response.headers_mut();
        headers.insert("Cache-Control", poem::http::HeaderValue::from_static("no-store"));
        headers.insert("X-Robots-Tag", poem::http::HeaderValue::from_static("noindex"));
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_both_languages_have_the_same_words() {
        for (name, _) in TEMPLATES {
            assert!(PAGES.templates.get_template(name).is_ok(), "{name}");
        }
        let table: HashMap<String, HashMap<String, String>> = toml::from_str(WORDS).unwrap();
        let mut de: Vec<&String> = table["de"].keys().collect();
        let mut en: Vec<&String> = table["en"].keys().collect();
        de.sort();
        en.sort();
        assert_eq!(de, en);
    }
}
