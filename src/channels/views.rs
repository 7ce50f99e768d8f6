//! What pages show of an entry, with facts already in words: one view per
//! type, shared by every channel that prints pages (the web site, the
//! 115 knowledge base's printable records).

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::Sources;
use super::snapshot::SnapshotEntry;
use crate::content::Locale;
use crate::render::facts::{self, Words};

/// A titled block of rendered Markdown.
#[derive(Serialize, Clone)]
pub struct Section {
    pub title: String,
    pub html: String,
}

#[derive(Serialize, Clone)]
pub struct Fact {
    pub label: String,
    pub value: String,
    pub note: String,
}

/// A link to another entry's page, in the language that page is in.
#[derive(Serialize, Clone)]
pub struct EntryLink {
    pub href: String,
    pub name: String,
    pub lang: String,
    pub teaser: String,
}

#[derive(Serialize, Clone)]
pub struct ExternalLink {
    pub url: String,
    pub title: String,
}

#[derive(Serialize, Clone, Debug)]
pub struct Hours {
    pub kind: &'static str,
    pub note: String,
    pub lines: Vec<String>,
}

#[derive(Serialize, Clone, Debug)]
pub struct OfficeView {
    pub href: String,
    pub name: String,
    pub description: String,
    pub address: String,
    pub building: String,
    pub phone: String,
    pub email: String,
    pub web: String,
    pub appointment_url: String,
    pub hours: Vec<Hours>,
    pub exceptions: Vec<String>,
    /// The general weekly hours and the exceptions as JSON, for working
    /// out in the browser whether the office is open now; empty without
    /// general hours.
    pub schedule: String,
}

/// An office on a service's page: what it does for the service, and the
/// office as every page shows it.
#[derive(Serialize)]
pub struct ResponsibleOffice {
    pub role: &'static str,
    pub note: String,
    #[serde(flatten)]
    pub office: Arc<OfficeView>,
}

#[derive(Serialize)]
pub struct ServiceView {
    pub name: String,
    pub leika: String,
    pub teaser: String,
    pub sections: Vec<Section>,
    pub fees: Vec<Fact>,
    pub documents: Vec<Fact>,
    pub deadlines: Vec<Fact>,
    pub processing_time: String,
    pub online_service: Option<ExternalLink>,
    pub offices: Vec<ResponsibleOffice>,
    pub topics: Vec<EntryLink>,
    pub related: Vec<EntryLink>,
}

/// A knowledge article as the 115 knowledge base prints it: the answer,
/// the notes for agents, and the offices it names with their hours.
#[derive(Serialize)]
pub struct ArticleView {
    pub name: String,
    pub summary: String,
    pub sections: Vec<Section>,
    pub offices: Vec<Arc<OfficeView>>,
    pub related: Vec<EntryLink>,
}

pub fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn list<'a>(fields: &'a Value, key: &str) -> &'a [Value] {
    fields.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The web address of an entry's page in a locale.
pub fn href(locale: Locale, content_type: &str, slug: &str) -> String {
    format!("/{}/{content_type}/{slug}/", locale.code())
}

/// The `lang` attribute of a locale (Leichte Sprache is German).
pub fn lang(locale: Locale) -> &'static str {
    if locale == Locale::En { "en" } else { "de" }
}

/// The name of an entry (its title field).
pub fn name_of(entry: &SnapshotEntry, fields: &Value) -> String {
    fields.get(entry.content_type.title_field()).and_then(Value::as_str).unwrap_or(&entry.slug).to_owned()
}

/// The Markdown fields as sections: the lead text first, then the others;
/// body sections under their heading in the locale, the rest untitled
/// (they follow the page's heading, as its introduction).
pub fn sections(entry: &SnapshotEntry, locale: Locale) -> Vec<Section> {
    let content_type = &entry.content_type;
    let html = entry.html(locale);
    let lead = content_type.lead_field.as_deref();
    let ordered = lead.into_iter().chain(content_type.markdown_fields.iter().map(String::as_str).filter(|f| Some(*f) != lead));
    ordered
        .filter_map(|field| {
            let heading = content_type.sections.iter().find(|s| s.field == field).and_then(|s| s.heading(locale));
            Some(Section { title: heading.unwrap_or_default().to_owned(), html: html.get(field)?.clone() })
        })
        .collect()
}

pub fn office_view(entry: &SnapshotEntry, locale: Locale) -> OfficeView {
    let words = Words::of(locale);
    let office = entry.fields(locale);
    OfficeView {
        href: href(entry.shown_locale(locale), "office", &entry.slug),
        name: name_of(entry, office),
        description: entry.html(locale).get("description").cloned().unwrap_or_default(),
        address: office.get("address").map(facts::address).unwrap_or_default(),
        building: office.get("address").map(|a| text(a, "building")).unwrap_or_default(),
        phone: text(office, "phone"),
        email: text(office, "email"),
        web: text(office, "web"),
        appointment_url: text(office, "appointment_url"),
        hours: list(office, "opening_hours")
            .iter()
            .map(|hours| Hours { kind: facts::hours_kind(words, &text(hours, "kind")), note: text(hours, "note"), lines: facts::hour_lines(words, hours) })
            .collect(),
        exceptions: list(office, "exceptions").iter().map(|e| facts::exception(words, e)).collect(),
        schedule: schedule(office),
    }
}

fn schedule(office: &Value) -> String {
    let Some(general) = list(office, "opening_hours").iter().find(|hours| text(hours, "kind") == "general") else { return String::new() };
    let slots: Vec<Value> = list(general, "slots").iter().map(|s| serde_json::json!({ "days": s["days"], "opens": s["opens"], "closes": s["closes"] })).collect();
    let exceptions: Vec<Value> = list(office, "exceptions")
        .iter()
        .map(|e| {
            serde_json::json!({
                "from": e["from"],
                "until": e.get("until").unwrap_or(&Value::Null),
                "closed": e.get("closed").and_then(Value::as_bool).unwrap_or(false),
                "slots": list(e, "slots").iter().map(|s| serde_json::json!({ "opens": s["opens"], "closes": s["closes"] })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({ "slots": slots, "exceptions": exceptions }).to_string()
}

pub fn article_view(sources: &Sources<'_>, article: &SnapshotEntry, locale: Locale) -> ArticleView {
    let fields = article.fields(locale);
    ArticleView {
        name: name_of(article, fields),
        summary: text(fields, "summary"),
        sections: sections(article, locale),
        offices: list(fields, "related_offices")
            .iter()
            .filter_map(|slug| Some(sources.snapshot.get("office", slug.as_str()?)?.office_view(locale)))
            .collect(),
        related: list(fields, "related_services").iter().filter_map(|slug| sources.catalogue.link(locale, "service", slug.as_str()?)).collect(),
    }
}

pub fn service_view(sources: &Sources<'_>, service: &SnapshotEntry, locale: Locale) -> ServiceView {
    let words = Words::of(locale);
    let fields = service.fields(locale);
    let offices = list(fields, "responsible_offices")
        .iter()
        .filter_map(|responsibility| {
            let office = sources.snapshot.get("office", &text(responsibility, "office"))?;
            Some(ResponsibleOffice { role: facts::role(words, &text(responsibility, "role")), note: text(responsibility, "note"), office: office.office_view(locale) })
        })
        .collect();
    let links = |key: &str, content_type: &str| -> Vec<EntryLink> {
        list(fields, key).iter().filter_map(|slug| sources.catalogue.link(locale, content_type, slug.as_str()?)).collect()
    };
    ServiceView {
        name: name_of(service, fields),
        leika: text(fields, "leika"),
        teaser: text(fields, "teaser"),
        sections: sections(service, locale),
        fees: list(fields, "fees")
            .iter()
            .map(|fee| Fact { label: text(fee, "label"), value: facts::fee_amount(words, fee), note: text(fee, "note") })
            .collect(),
        documents: list(fields, "documents")
            .iter()
            .filter(|d| text(d, "direction") == "incoming")
            .map(|d| {
                let mandatory = d.get("mandatory").and_then(Value::as_bool).unwrap_or(true);
                let value = match (mandatory, words) {
                    (true, Words::German) => "erforderlich",
                    (false, Words::German) => "falls zutreffend",
                    (true, Words::English) => "required",
                    (false, Words::English) => "if applicable",
                };
                Fact { label: text(d, "name"), value: value.to_owned(), note: text(d, "description") }
            })
            .collect(),
        deadlines: list(fields, "deadlines")
            .iter()
            .map(|d| Fact { label: text(d, "label"), value: facts::time_span(words, d), note: String::new() })
            .collect(),
        processing_time: fields.get("processing_time").map(|t| facts::time_span(words, t)).unwrap_or_default(),
        online_service: fields.get("online_service").map(|o| ExternalLink { url: text(o, "url"), title: text(o, "title") }),
        offices,
        topics: links("topics", "topic"),
        related: links("related_services", "service"),
    }
}
