//! Services and offices as EU CPSV-AP 3.2.0 (Core Public Service
//! Vocabulary Application Profile) JSON-LD, one document per entry.
//!
//! A service is a `cpsv:PublicService`; each office a
//! `cv:PublicOrganisation` with a `locn:Address` and a `cv:ContactPoint`
//! carrying its opening hours, and the competent authority of the services
//! it is responsible for. Fees are `cv:Cost`, documents brought `cv:Evidence`,
//! documents received `cv:Output`, the prerequisites a `cv:Requirement`,
//! the online service a `cv:Channel`, the LeiKa key a `skos:Concept`
//! (`urn:de:fim:leika:leistung:<key>`).
//!
//! Entries are named by the address of their German web page, as in the
//! web channel's schema.org JSON-LD, so both describe the same resource;
//! `dct:identifier` is the entry's stable id. Texts are language-tagged
//! per locale from each locale's own document — a translation's gaps are
//! left out, not filled with German. The context is inline (prefixes
//! only), so the documents are read without fetching anything.

use serde_json::{Value, json};

use crate::channels::Site;
use crate::channels::snapshot::SnapshotEntry;
use crate::channels::views;
use crate::content::Locale;
use crate::content::known_fields as field;
use crate::render::facts::{self, Words};
use crate::render::markdown::to_plain_text;

const LANGUAGE_AUTHORITY: &str = "http://publications.europa.eu/resource/authority/language/";
const CURRENCY_AUTHORITY: &str = "http://publications.europa.eu/resource/authority/currency/";

fn context() -> Value {
    json!({
        "cpsv": "http://purl.org/vocab/cpsv#",
        "cv": "http://data.europa.eu/m8g/",
        "dcat": "http://www.w3.org/ns/dcat#",
        "dct": "http://purl.org/dc/terms/",
        "foaf": "http://xmlns.com/foaf/0.1/",
        "locn": "http://www.w3.org/ns/locn#",
        "skos": "http://www.w3.org/2004/02/skos/core#",
        "time": "http://www.w3.org/2006/time#",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
    })
}

fn document(graph: Vec<Value>) -> Value {
    json!({ "@context": context(), "@graph": graph })
}

fn iri(site: &Site, content_type: &str, slug: &str) -> String {
    format!("{}{}", site.url, views::href(Locale::SOURCE, content_type, slug))
}

fn reference(iri: impl Into<String>) -> Value {
    json!({ "@id": iri.into() })
}

/// The municipality's territory (`dct:spatial` of services and offices).
fn area(site: &Site) -> Value {
    let name = if site.municipality.is_empty() { &site.name } else { &site.municipality };
    json!({
        "@id": format!("{}/#area", site.url),
        "@type": "dct:Location",
        "locn:geographicName": { "@language": Locale::SOURCE.code(), "@value": name },
    })
}

/// The document a locale shows as its own: the German source, or a
/// published translation that fits it.
fn own_document(entry: &SnapshotEntry, locale: Locale) -> Option<&Value> {
    if locale.is_source() {
        return Some(&entry.source.document);
    }
    let translation = entry.translations.get(&locale)?;
    (entry.shown_locale(locale) == locale).then_some(&translation.document)
}

/// Language-tagged texts, one per locale whose own document has one.
fn texts(entry: &SnapshotEntry, pick: impl Fn(Locale, &Value) -> Option<String>) -> Vec<Value> {
    entry
        .locales()
        .filter_map(|locale| {
            let text = pick(locale, own_document(entry, locale)?)?;
            let text = text.trim();
            (!text.is_empty()).then(|| json!({ "@language": locale.code(), "@value": text }))
        })
        .collect()
}

fn text_at(document: &Value, pointer: &str) -> Option<String> {
    document.pointer(pointer)?.as_str().map(str::to_owned)
}

fn markdown_at(document: &Value, pointer: &str) -> Option<String> {
    document.pointer(pointer)?.as_str().map(to_plain_text)
}

fn list<'a>(fields: &'a Value, key: &str) -> &'a [Value] {
    fields.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The EU languages of the entry's locales (Leichte Sprache is German).
fn languages(entry: &SnapshotEntry) -> Vec<Value> {
    let mut codes: Vec<&str> = entry.locales().map(|locale| if locale == Locale::En { "ENG" } else { "DEU" }).collect();
    codes.sort_unstable();
    codes.dedup();
    codes.into_iter().map(|code| json!({ "@id": format!("{LANGUAGE_AUTHORITY}{code}"), "@type": "dct:LinguisticSystem" })).collect()
}

/// Sets `key` when there is something to say.
fn set(node: &mut Value, key: &str, values: Vec<Value>) {
    if !values.is_empty() {
        node[key] = Value::Array(values);
    }
}

/// A service with its costs, evidence, outputs, requirement and online
/// channel. `included(type, slug)` tells whether the bundle describes that
/// entry too: links lead only to resources described beside them.
pub fn service(site: &Site, service: &SnapshotEntry, included: &dyn Fn(&str, &str) -> bool) -> Value {
    let id = iri(site, field::service::TYPE, &service.slug);
    let fields = &service.source.document;
    let area = area(site);
    let languages = languages(service);
    let mut node = json!({
        "@id": id,
        "@type": "cpsv:PublicService",
        "dct:identifier": service.id,
        "dct:spatial": reference(area["@id"].as_str().unwrap_or_default()),
    });
    let title = format!("/{}", service.content_type.title_field());
    set(&mut node, "dct:title", texts(service, |_, d| text_at(d, &title)));
    set(&mut node, "dct:description", texts(service, |_, d| markdown_at(d, &format!("/{}", field::service::SHORT_TEXT))));
    set(&mut node, "dct:language", languages.iter().map(|l| reference(l["@id"].as_str().unwrap_or_default())).collect());
    let keywords = service
        .locales()
        .filter_map(|locale| Some((locale, own_document(service, locale)?)))
        .flat_map(|(locale, document)| {
            list(document, field::service::KEYWORDS).iter().filter_map(Value::as_str).map(move |k| json!({ "@language": locale.code(), "@value": k }))
        })
        .collect();
    set(&mut node, "dcat:keyword", keywords);

    // The offices named as responsible are the competent authority; when
    // none is, every office the service names is.
    let offices: Vec<(&str, &str)> = list(fields, field::service::RESPONSIBLE_OFFICES)
        .iter()
        .filter_map(|r| Some((r.get(field::responsibility::OFFICE)?.as_str()?, r.get(field::responsibility::ROLE)?.as_str()?)))
        .filter(|(office, _)| included(field::office::TYPE, office))
        .collect();
    let responsible: Vec<&str> = offices.iter().filter(|(_, role)| *role == "responsible").map(|(office, _)| *office).collect();
    let competent = if responsible.is_empty() { offices.iter().map(|(office, _)| *office).collect() } else { responsible };
    set(&mut node, "cv:hasCompetentAuthority", competent.iter().map(|office| reference(iri(site, field::office::TYPE, office))).collect());
    let mut contact_points: Vec<String> = Vec::new();
    for (office, _) in &offices {
        let contact_point = format!("{}#contact-point", iri(site, field::office::TYPE, office));
        if !contact_points.contains(&contact_point) {
            contact_points.push(contact_point);
        }
    }
    set(&mut node, "cv:contactPoint", contact_points.into_iter().map(reference).collect());
    let related = list(fields, field::service::RELATED_SERVICES).iter().filter_map(Value::as_str).filter(|slug| included(field::service::TYPE, slug));
    set(&mut node, "cv:relatedService", related.map(|slug| reference(iri(site, field::service::TYPE, slug))).collect());
    let processing_time = fields.get(field::service::PROCESSING_TIME).and_then(|time| time.get(field::time_span::DURATION));
    if let Some(duration) = processing_time.and_then(xsd_duration) {
        node["cv:processingTime"] = json!({ "@type": "xsd:duration", "@value": duration });
    }

    let mut graph = Vec::new();
    if let Some(leika) = service.content_type.leika(fields).filter(|leika| !leika.is_empty()) {
        let concept = format!("urn:de:fim:leika:leistung:{leika}");
        node["cv:isClassifiedBy"] = reference(&concept);
        graph.push(json!({ "@id": concept, "@type": "skos:Concept", "skos:notation": leika }));
    }
    let costs = costs(service, &id, &mut graph);
    set(&mut node, "cv:hasCost", costs);
    let (inputs, outputs) = documents(service, &id, &mut graph);
    set(&mut node, "cpsv:hasInput", inputs);
    set(&mut node, "cpsv:produces", outputs);
    if let Some(requirement) = prerequisites(service, &id) {
        node["cv:holdsRequirement"] = reference(requirement["@id"].as_str().unwrap_or_default());
        graph.push(requirement);
    }
    if let Some(url) = fields.get(field::service::ONLINE_SERVICE).and_then(|online| online.get(field::online_service::URL)?.as_str()) {
        let channel = format!("{id}#online-service");
        node["cv:hasChannel"] = reference(&channel);
        let mut online = json!({
            "@id": channel,
            "@type": "cv:Channel",
            "dct:identifier": format!("{}/{}", service.id, field::service::ONLINE_SERVICE),
            "foaf:page": reference(url),
        });
        set(
            &mut online,
            "dct:description",
            texts(service, |_, d| text_at(d, &format!("/{}/{}", field::service::ONLINE_SERVICE, field::online_service::TITLE))),
        );
        graph.push(online);
    }
    graph.insert(0, node);
    graph.push(area);
    graph.extend(languages);
    document(graph)
}

/// A single duration as `xsd:duration`, which has no weeks: `P3W` is `P21D`.
fn xsd_duration(duration: &Value) -> Option<String> {
    let iso = facts::iso_duration(duration)?;
    match iso.strip_prefix('P').and_then(|rest| rest.strip_suffix('W')) {
        Some(weeks) => Some(format!("P{}D", weeks.parse::<i64>().ok()? * 7)),
        None => Some(iso),
    }
}

/// Each fee as a `cv:Cost`: fixed amounts and free services with a value,
/// ranges in words only (a cost has a single value).
fn costs(service: &SnapshotEntry, id: &str, graph: &mut Vec<Value>) -> Vec<Value> {
    let mut currencies: Vec<String> = Vec::new();
    let mut costs = Vec::new();
    for (i, fee) in list(&service.source.document, field::service::FEES).iter().enumerate() {
        let cost_id = format!("{id}#fee-{}", i + 1);
        let currency = fee.get(field::fee::CURRENCY).and_then(Value::as_str).unwrap_or("EUR").to_owned();
        let mut cost = json!({
            "@id": cost_id,
            "@type": "cv:Cost",
            "dct:identifier": format!("{}/{}/{i}", service.id, field::service::FEES),
        });
        let value = match views::text(fee, field::fee::KIND).as_str() {
            "free" => Some(0.0),
            "fixed" => fee.get(field::fee::AMOUNT).and_then(Value::as_f64),
            _ => None,
        };
        if let Some(value) = value {
            cost["cv:hasValue"] = json!({ "@type": "xsd:double", "@value": value.to_string() });
            cost["cv:currency"] = reference(format!("{CURRENCY_AUTHORITY}{currency}"));
            if !currencies.contains(&currency) {
                currencies.push(currency);
            }
        }
        let descriptions = texts(service, |locale, document| {
            let label = text_at(document, &format!("/{}/{i}/{}", field::service::FEES, field::fee::LABEL))?;
            let words = Words::of(locale);
            let note = text_at(document, &format!("/{}/{i}/{}", field::service::FEES, field::fee::NOTE)).map(|note| format!(" ({note})")).unwrap_or_default();
            Some(format!("{label}: {}{note}", facts::fee_amount(words, fee)))
        });
        set(&mut cost, "dct:description", descriptions);
        costs.push(reference(&cost_id));
        graph.push(cost);
    }
    graph.extend(currencies.into_iter().map(|code| json!({ "@id": format!("{CURRENCY_AUTHORITY}{code}"), "@type": "skos:Concept", "skos:notation": code })));
    costs
}

/// Documents brought (`cv:Evidence`) and documents received (`cv:Output`).
fn documents(service: &SnapshotEntry, id: &str, graph: &mut Vec<Value>) -> (Vec<Value>, Vec<Value>) {
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    for (i, item) in list(&service.source.document, field::service::DOCUMENTS).iter().enumerate() {
        let incoming = views::text(item, field::service_document::DIRECTION) == "incoming";
        let node_id = format!("{id}#document-{}", i + 1);
        let mut node = json!({
            "@id": node_id,
            "@type": if incoming { "cv:Evidence" } else { "cv:Output" },
            "dct:identifier": format!("{}/{}/{i}", service.id, field::service::DOCUMENTS),
        });
        let at = |key| format!("/{}/{i}/{key}", field::service::DOCUMENTS);
        set(&mut node, "dct:title", texts(service, |_, d| text_at(d, &at(field::service_document::NAME))));
        set(&mut node, "dct:description", texts(service, |_, d| text_at(d, &at(field::service_document::DESCRIPTION))));
        if let Some(form) = item.get(field::service_document::FORM_URL).and_then(Value::as_str).filter(|_| incoming) {
            node["foaf:page"] = reference(form);
            graph.push(json!({ "@id": form, "@type": "foaf:Document" }));
        }
        if incoming {
            inputs.push(reference(&node_id))
        } else {
            outputs.push(reference(&node_id))
        }
        graph.push(node);
    }
    (inputs, outputs)
}

/// The prerequisites module as one `cv:Requirement`, titled with its
/// section heading in each locale.
fn prerequisites(service: &SnapshotEntry, id: &str) -> Option<Value> {
    const FIELD: &str = field::service::PREREQUISITES;
    service.source.document.get(FIELD)?;
    let section = service.content_type.sections.iter().find(|s| s.field == FIELD)?;
    let mut requirement = json!({
        "@id": format!("{id}#{FIELD}"),
        "@type": "cv:Requirement",
        "dct:identifier": format!("{}/{FIELD}", service.id),
    });
    let titles = service
        .locales()
        .filter(|locale| own_document(service, *locale).is_some_and(|d| d.get(FIELD).is_some()))
        .filter_map(|locale| Some(json!({ "@language": locale.code(), "@value": section.heading(locale)? })))
        .collect();
    set(&mut requirement, "dct:title", titles);
    set(&mut requirement, "dct:description", texts(service, |_, d| markdown_at(d, &format!("/{FIELD}"))));
    Some(requirement)
}

/// An office as the public organisation it is, with its address and a
/// contact point for phone, e-mail, web page and opening hours.
pub fn office(site: &Site, office: &SnapshotEntry) -> Value {
    let id = iri(site, field::office::TYPE, &office.slug);
    let fields = &office.source.document;
    let area = area(site);
    let mut graph = Vec::new();
    let mut node = json!({
        "@id": id,
        "@type": "cv:PublicOrganisation",
        "dct:identifier": office.id,
        "dct:spatial": reference(area["@id"].as_str().unwrap_or_default()),
        "cv:contactPoint": reference(format!("{id}#contact-point")),
    });
    let title = format!("/{}", office.content_type.title_field());
    set(&mut node, "skos:prefLabel", texts(office, |_, d| text_at(d, &title)));
    if let Some(address) = fields.get(field::office::ADDRESS) {
        let german = |value: String| json!({ "@language": Locale::SOURCE.code(), "@value": value });
        let street = format!("{} {}", views::text(address, field::address::STREET), views::text(address, field::address::HOUSE_NUMBER)).trim().to_owned();
        node["locn:address"] = reference(format!("{id}#address"));
        graph.push(json!({
            "@id": format!("{id}#address"),
            "@type": "locn:Address",
            "locn:thoroughfare": german(street),
            "locn:postCode": views::text(address, field::address::POSTAL_CODE),
            "locn:postName": german(views::text(address, field::address::CITY)),
            "locn:fullAddress": german(facts::address(address)),
        }));
    }

    let mut contact = json!({ "@id": format!("{id}#contact-point"), "@type": "cv:ContactPoint" });
    for (key, property) in [(field::office::PHONE, "cv:telephone"), (field::office::EMAIL, "cv:email")] {
        if let Some(value) = fields.get(key).and_then(Value::as_str) {
            contact[property] = json!(value);
        }
    }
    if let Some(web) = fields.get(field::office::WEB).and_then(Value::as_str) {
        contact["cv:contactPage"] = reference(web);
        graph.push(json!({ "@id": web, "@type": "foaf:Document" }));
    }
    let mut hours = Vec::new();
    for (i, block) in list(fields, field::office::OPENING_HOURS).iter().enumerate() {
        let hours_id = format!("{id}#hours-{}", i + 1);
        let descriptions = described_per_locale(office, |words, document| {
            let note = text_at(document, &format!("/{}/{i}/{}", field::office::OPENING_HOURS, field::hours::NOTE))
                .map(|note| format!(" ({note})"))
                .unwrap_or_default();
            format!("{}: {}{note}", facts::hours_kind(words, &views::text(block, field::hours::KIND)), facts::hour_lines(words, block).join(", "))
        });
        hours.push(reference(&hours_id));
        graph.push(json!({ "@id": hours_id, "@type": "time:TemporalEntity", "dct:description": descriptions }));
    }
    set(&mut contact, "cv:openingHours", hours);
    let mut special = Vec::new();
    for (i, exception) in list(fields, field::office::EXCEPTIONS).iter().enumerate() {
        let special_id = format!("{id}#exception-{}", i + 1);
        let descriptions = described_per_locale(office, |words, document| {
            facts::exception(words, document.pointer(&format!("/{}/{i}", field::office::EXCEPTIONS)).unwrap_or(exception))
        });
        special.push(reference(&special_id));
        graph.push(json!({ "@id": special_id, "@type": "time:TemporalEntity", "dct:description": descriptions }));
    }
    set(&mut contact, "cv:specialOpeningHoursSpecification", special);
    graph.insert(0, contact);
    graph.insert(0, node);
    graph.push(area);
    document(graph)
}

/// A description written from structured facts in each of the entry's
/// locales, with the locale's fields (a translation's gaps in German).
fn described_per_locale(entry: &SnapshotEntry, describe: impl Fn(Words, &Value) -> String) -> Vec<Value> {
    entry
        .locales()
        .filter(|locale| own_document(entry, *locale).is_some())
        .map(|locale| json!({ "@language": locale.code(), "@value": describe(Words::of(locale), entry.fields(locale)) }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_valid_xml_schema_durations() {
        assert_eq!(xsd_duration(&json!({"value": 3, "unit": "weeks"})).as_deref(), Some("P21D"));
        assert_eq!(xsd_duration(&json!({"value": 2, "unit": "hours"})).as_deref(), Some("PT2H"));
        assert_eq!(xsd_duration(&json!({"value": 2, "unit": "weeks", "up_to": 4})), None, "a range has no single duration");
    }
}
