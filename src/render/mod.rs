//! Rendering content for people: Markdown to safe HTML, and the template
//! environment every HTML page (channels, editor UI) is made with.

pub mod escape;
pub mod facts;
pub mod markdown;

/// A template environment for HTML pages. Values are escaped as HTML
/// needs (`& < > " '`); slashes stay slashes, so addresses read as written.
pub fn html_templates() -> minijinja::Environment<'static> {
    let mut templates = minijinja::Environment::new();
    templates.set_formatter(|out, state, value| {
        if value.is_safe() || *state.auto_escape() != minijinja::AutoEscape::Html {
            return minijinja::escape_formatter(out, state, value);
        }
        match value.as_str() {
            Some(text) => crate::render::escape::escape_into(out, text),
            None => crate::render::escape::escape_into(out, &value.to_string()),
        }
        .map_err(minijinja::Error::from)
    });
    templates
}

/// Any serialisable value as a template value.
pub fn template_value(value: &impl serde::Serialize) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}
