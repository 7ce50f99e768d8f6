//! What pages show of an entry, with facts already in words: one view per
//! type, shared by every channel that prints pages (the web site, the
//! 115 knowledge base's printable records).

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::Sources;
use super::snapshot::SnapshotEntry;
use crate::content::Locale;
use crate::content::known_fields::{
    address, article, deadline, exception, fee, hours, office, online_service, responsibility, service, service_document, slot, topic,
};
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
    let fields = entry.fields(locale);
    OfficeView {
        href: href(entry.shown_locale(locale), office::TYPE, &entry.slug),
        name: name_of(entry, fields),
        description: entry.html(locale).get(office::DESCRIPTION).cloned().unwrap_or_default(),
        address: fields.get(office::ADDRESS).map(facts::address).unwrap_or_default(),
        building: fields.get(office::ADDRESS).map(|a| text(a, address::BUILDING)).unwrap_or_default(),
        phone: text(fields, office::PHONE),
        email: text(fields, office::EMAIL),
        web: text(fields, office::WEB),
        appointment_url: text(fields, office::APPOINTMENT_URL),
        hours: list(fields, office::OPENING_HOURS)
            .iter()
            .map(|block| Hours {
                kind: facts::hours_kind(words, &text(block, hours::KIND)),
                note: text(block, hours::NOTE),
                lines: facts::hour_lines(words, block),
            })
            .collect(),
        exceptions: list(fields, office::EXCEPTIONS).iter().map(|e| facts::exception(words, e)).collect(),
        schedule: schedule(fields),
    }
}

fn schedule(fields: &Value) -> String {
    let Some(general) = list(fields, office::OPENING_HOURS).iter().find(|block| text(block, hours::KIND) == "general") else { return String::new() };
    let slots: Vec<Value> =
        list(general, hours::SLOTS).iter().map(|s| serde_json::json!({ "days": s[slot::DAYS], "opens": s[slot::OPENS], "closes": s[slot::CLOSES] })).collect();
    let exceptions: Vec<Value> = list(fields, office::EXCEPTIONS)
        .iter()
        .map(|e| {
            serde_json::json!({
                "from": e[exception::FROM],
                "until": e.get(exception::UNTIL).unwrap_or(&Value::Null),
                "closed": e.get(exception::CLOSED).and_then(Value::as_bool).unwrap_or(false),
                "slots": list(e, exception::SLOTS).iter().map(|s| serde_json::json!({ "opens": s[slot::OPENS], "closes": s[slot::CLOSES] })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({ "slots": slots, "exceptions": exceptions }).to_string()
}

pub fn article_view(sources: &Sources<'_>, entry: &SnapshotEntry, locale: Locale) -> ArticleView {
    let fields = entry.fields(locale);
    ArticleView {
        name: name_of(entry, fields),
        summary: text(fields, article::SUMMARY),
        sections: sections(entry, locale),
        offices: list(fields, article::RELATED_OFFICES)
            .iter()
            .filter_map(|slug| Some(sources.snapshot.get(office::TYPE, slug.as_str()?)?.office_view(locale)))
            .collect(),
        related: list(fields, article::RELATED_SERVICES).iter().filter_map(|slug| sources.catalogue.link(locale, service::TYPE, slug.as_str()?)).collect(),
    }
}

pub fn service_view(sources: &Sources<'_>, entry: &SnapshotEntry, locale: Locale) -> ServiceView {
    let words = Words::of(locale);
    let fields = entry.fields(locale);
    let offices = list(fields, service::RESPONSIBLE_OFFICES)
        .iter()
        .filter_map(|duty| {
            let office = sources.snapshot.get(office::TYPE, &text(duty, responsibility::OFFICE))?;
            Some(ResponsibleOffice {
                role: facts::role(words, &text(duty, responsibility::ROLE)),
                note: text(duty, responsibility::NOTE),
                office: office.office_view(locale),
            })
        })
        .collect();
    let links = |key: &str, content_type: &str| -> Vec<EntryLink> {
        list(fields, key).iter().filter_map(|slug| sources.catalogue.link(locale, content_type, slug.as_str()?)).collect()
    };
    ServiceView {
        name: name_of(entry, fields),
        leika: entry.content_type.leika(fields).unwrap_or_default().to_owned(),
        teaser: text(fields, service::TEASER),
        sections: sections(entry, locale),
        fees: list(fields, service::FEES)
            .iter()
            .map(|cost| Fact { label: text(cost, fee::LABEL), value: facts::fee_amount(words, cost), note: text(cost, fee::NOTE) })
            .collect(),
        documents: list(fields, service::DOCUMENTS)
            .iter()
            .filter(|d| text(d, service_document::DIRECTION) == "incoming")
            .map(|d| {
                let mandatory = d.get(service_document::MANDATORY).and_then(Value::as_bool).unwrap_or(true);
                let value = match (mandatory, words) {
                    (true, Words::German) => "erforderlich",
                    (false, Words::German) => "falls zutreffend",
                    (true, Words::English) => "required",
                    (false, Words::English) => "if applicable",
                };
                Fact { label: text(d, service_document::NAME), value: value.to_owned(), note: text(d, service_document::DESCRIPTION) }
            })
            .collect(),
        deadlines: list(fields, service::DEADLINES)
            .iter()
            .map(|d| Fact { label: text(d, deadline::LABEL), value: facts::time_span(words, d), note: String::new() })
            .collect(),
        processing_time: fields.get(service::PROCESSING_TIME).map(|t| facts::time_span(words, t)).unwrap_or_default(),
        online_service: fields.get(service::ONLINE_SERVICE).map(|o| ExternalLink { url: text(o, online_service::URL), title: text(o, online_service::TITLE) }),
        offices,
        topics: links(service::TOPICS, topic::TYPE),
        related: links(service::RELATED_SERVICES, service::TYPE),
    }
}
