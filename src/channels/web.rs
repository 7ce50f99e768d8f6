//! `web`: the public site as static files — a page per service, office,
//! topic and article in each published locale (with `hreflang` links
//! between them), a start page and an A–Z index per locale, schema.org
//! JSON-LD on service and office pages, `sitemap.xml` and a stylesheet.
//!
//! Templates (minijinja) are compiled in; a folder given with
//! `--templates` overrides any of them by name (`service.html`,
//! `style.css`, …), so a partner city restyles without forking.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::render::template_value;
use serde::Serialize;
use serde_json::{Value, json};

use super::catalogue::{Catalogue, Summary};
use super::snapshot::SnapshotEntry;
use super::views::{self, EntryLink, href, lang, name_of};
use super::{Aggregates, ChannelError, EntryOutput, Projection, Site, Sources};
use crate::content::Locale;
use crate::content::known_fields::{address, article, exception, geo, hours, office, online_service, responsibility, service, slot, time_span, topic};
use crate::holidays;
use crate::render::escape::{escape, json_for_script};
use crate::render::facts::{self, SCHEMA_ORG_DAYS};

const BUILT_IN: [(&str, &str); 11] = [
    ("base.html", include_str!("templates/web/base.html")),
    ("start.html", include_str!("templates/web/start.html")),
    ("az.html", include_str!("templates/web/az.html")),
    ("service.html", include_str!("templates/web/service.html")),
    ("office.html", include_str!("templates/web/office.html")),
    ("office_card.html", include_str!("templates/web/office_card.html")),
    ("entry.html", include_str!("templates/web/entry.html")),
    ("not_found.html", include_str!("templates/web/not_found.html")),
    ("style.css", include_str!("templates/web/style.css")),
    ("open-now.js", include_str!("templates/web/open-now.js")),
    ("ui.toml", include_str!("templates/web/ui.toml")),
];

/// The site's icon: `favicon.ico` of the override folder, else katalog's.
fn favicon(overrides: Option<&Path>) -> Result<Vec<u8>, ChannelError> {
    match overrides.map(|folder| folder.join("favicon.ico")).filter(|path| path.is_file()) {
        Some(path) => std::fs::read(&path).map_err(|source| ChannelError::Io { path: path.display().to_string(), source }),
        None => Ok(include_bytes!("templates/web/favicon.ico").to_vec()),
    }
}

/// Reads a template from the override folder, else the built-in one.
fn template_source(overrides: Option<&Path>, name: &str) -> Result<Option<String>, ChannelError> {
    if let Some(folder) = overrides {
        let path = folder.join(name);
        if path.is_file() {
            return std::fs::read_to_string(&path).map(Some).map_err(|source| ChannelError::Io { path: path.display().to_string(), source });
        }
    }
    Ok(BUILT_IN.iter().find(|(built_in, _)| *built_in == name).map(|(_, source)| (*source).to_owned()))
}

fn environment(overrides: Option<PathBuf>) -> minijinja::Environment<'static> {
    let mut templates = crate::render::html_templates();
    templates.set_loader(move |name| {
        template_source(overrides.as_deref(), name).map_err(|e| minijinja::Error::new(minijinja::ErrorKind::TemplateNotFound, e.to_string()))
    });
    templates
}

/// Words of the interface, per locale (`ui.toml`, overridable too).
type Ui = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Serialize)]
struct Alternate {
    hreflang: &'static str,
    href: String,
    label: String,
    lang: &'static str,
}

/// A rendered page: where it goes, its bytes, and its sitemap entry.
struct RenderedPage {
    path: String,
    html: Vec<u8>,
    alternates: Vec<Alternate>,
}

/// The web site's templates, words and settings.
pub struct Web {
    templates: minijinja::Environment<'static>,
    ui: Ui,
    site: Site,
    /// What every page shows of the site and of the words of its locale,
    /// made once as template values (cheap to share) rather than per page.
    site_value: minijinja::Value,
    ui_values: BTreeMap<String, minijinja::Value>,
    /// Files sent as they are: the stylesheet, the "open now" script and
    /// the public holidays it reads.
    assets: Vec<(String, Vec<u8>)>,
    fingerprint: String,
}

impl Web {
    pub fn new(site: &Site, overrides: Option<&Path>) -> Result<Web, ChannelError> {
        let mut sources = Vec::new();
        for (name, _) in BUILT_IN {
            sources.push(format!("{name}\n{}", template_source(overrides, name)?.unwrap_or_default()));
        }
        sources.push(format!("favicon.ico\n{}", crate::digest::sha256_hex(favicon(overrides)?)));
        let ui: Ui = toml::from_str(&template_source(overrides, "ui.toml")?.unwrap_or_default())
            .map_err(|e| ChannelError::Template(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, format!("ui.toml: {e}"))))?;
        let settings = serde_json::to_string(site).map_err(ChannelError::Json)?;
        let ui_values = ui.iter().map(|(locale, words)| (locale.clone(), template_value(&words))).collect();
        Ok(Web {
            templates: environment(overrides.map(Path::to_path_buf)),
            site_value: template_value(&site),
            ui_values,
            ui,
            site: site.clone(),
            assets: ["style.css", "open-now.js"]
                .into_iter()
                .map(|name| Ok((name.to_owned(), template_source(overrides, name)?.unwrap_or_default().into_bytes())))
                .chain([Ok(("holidays.js".to_owned(), holidays_script(site))), favicon(overrides).map(|icon| ("favicon.ico".to_owned(), icon))])
                .collect::<Result<_, ChannelError>>()?,
            fingerprint: crate::digest::sha256_hex(format!("{settings}\n{}", sources.join("\n"))),
        })
    }

    fn page(
        &self,
        template: &str,
        locale: Locale,
        title: String,
        alternates: Vec<Alternate>,
        json_ld: Option<Value>,
        content: minijinja::Value,
    ) -> Result<RenderedPage, ChannelError> {
        let ui = self.ui_values.get(locale.code()).or_else(|| self.ui_values.get(Locale::SOURCE.code())).cloned().unwrap_or_default();
        let own = alternates.iter().find(|a| a.hreflang == locale.code()).map(|a| a.href.clone()).unwrap_or_default();
        let context = minijinja::context! {
            site => self.site_value.clone(),
            ui => ui,
            locale => locale.code(),
            lang => lang(locale),
            title => title,
            json_ld => json_ld.map(|v| json_for_script(&v)).unwrap_or_default(),
            alternates => template_value(&alternates),
            ..content
        };
        let html = self.templates.get_template(template)?.render(context)?;
        Ok(RenderedPage { path: own, html: html.into_bytes(), alternates })
    }
}

fn alternates(locales: impl IntoIterator<Item = Locale>, ui: &Ui, path: impl Fn(Locale) -> String) -> Vec<Alternate> {
    locales
        .into_iter()
        .map(|locale| Alternate {
            hreflang: locale.code(),
            href: path(locale),
            label: ui.get(locale.code()).and_then(|words| words.get("language_name")).cloned().unwrap_or_else(|| locale.code().to_owned()),
            lang: lang(locale),
        })
        .collect()
}

impl Projection for Web {
    fn fingerprint(&self) -> String {
        format!("web-{}", self.fingerprint)
    }

    fn entry_files(&self, entry: &SnapshotEntry, sources: &Sources<'_>) -> Result<EntryOutput, ChannelError> {
        let files = self.entry_pages(sources, entry)?.into_iter().map(|page| (page_file(&page.path), page.html)).collect();
        Ok(EntryOutput { files, ..EntryOutput::default() })
    }

    fn aggregate_files(&self, all: &Aggregates<'_>) -> Result<Vec<(String, Vec<u8>)>, ChannelError> {
        let catalogue = all.catalogue;
        let site_locales = catalogue.locales();
        let mut files = self.assets.clone();
        files.push(("index.html".to_owned(), root_page(&self.site).into_bytes()));
        let mut sitemap_pages = Vec::new();
        for &locale in &site_locales {
            let ui = self.ui.get(locale.code()).cloned().unwrap_or_default();
            let word = |key: &str| ui.get(key).cloned().unwrap_or_else(|| key.to_owned());
            let topics: Vec<EntryLink> = catalogue.of_type(topic::TYPE).filter_map(|t| catalogue.link(locale, topic::TYPE, &t.slug)).collect();
            let start = alternates(site_locales.iter().copied(), &self.ui, |l| format!("/{}/", l.code()));
            let a_z = alternates(site_locales.iter().copied(), &self.ui, |l| format!("/{}/a-z/", l.code()));
            for page in [
                self.page("start.html", locale, word("start_title"), start, None, minijinja::context! { topics => template_value(&topics) })?,
                self.page("az.html", locale, word("a_z"), a_z, None, minijinja::context! { groups => template_value(&letter_groups(catalogue, locale)) })?,
            ] {
                files.push((page_file(&page.path), page.html));
                sitemap_pages.push((page.path, page.alternates));
            }
            // Answered with status 404 for any address without a page (the
            // live site does; a web server serving the export can).
            let not_found = alternates(site_locales.iter().copied(), &self.ui, |l| format!("/{}/", l.code()));
            let page = self.page("not_found.html", locale, word("not_found_title"), not_found, None, minijinja::context! {})?;
            files.push((not_found_file(locale), page.html));
        }
        for summary in catalogue.all() {
            for locale in summary.locales() {
                let page_alternates = alternates(summary.locales(), &self.ui, |l| href(l, &summary.content_type, &summary.slug));
                sitemap_pages.push((href(locale, &summary.content_type, &summary.slug), page_alternates));
            }
        }
        files.push(("sitemap.xml".to_owned(), sitemap(&self.site, &sitemap_pages).into_bytes()));
        Ok(files)
    }
}

/// The public holidays of the site's federal state for the "open now"
/// script, one date a line: listed rather than computed in the browser, so
/// that the pages use the days katalog compared with its reference.
fn holidays_script(site: &Site) -> Vec<u8> {
    let (first, last) = (*holidays::COMPARED_YEARS.start(), *holidays::COMPARED_YEARS.end());
    let region = site.federal_state.map_or_else(|| "kept all over Germany".to_owned(), |state| format!("of {}", state.name()));
    let days: Vec<String> = holidays::COMPARED_YEARS
        .flat_map(|year| holidays::public_holidays(site.federal_state, year))
        .map(|holiday| format!("{}: {}", json!(holiday.date.to_string()), json!([holiday.de, holiday.en])))
        .collect();
    format!(
        "// The public holidays {region}, {first} to {last} (`federal_state` in site.toml): the date and its\n// name in German and English. Offices are closed on them unless they name other hours for the date.\nvar KATALOG_HOLIDAYS = {{\n{}\n}};\n",
        days.join(",\n")
    )
    .into_bytes()
}

/// The page a browser gets, with status 404, for an address of `locale`'s
/// part of the site that has no page.
pub fn not_found_file(locale: Locale) -> String {
    format!("{}/404.html", locale.code())
}

/// The file of the page at a web path (`/de/a-z/` → `de/a-z/index.html`).
pub(super) fn page_file(path: &str) -> String {
    format!("{}index.html", path.trim_start_matches('/'))
}

impl Web {
    /// The pages of one entry, one per published locale.
    fn entry_pages(&self, sources: &Sources<'_>, entry: &SnapshotEntry) -> Result<Vec<RenderedPage>, ChannelError> {
        let catalogue = sources.catalogue;
        let type_name = entry.content_type.name.as_str();
        let key = (type_name.to_owned(), entry.slug.clone());
        let mut pages = Vec::new();
        for locale in entry.locales() {
            let page_alternates = alternates(entry.locales(), &self.ui, |l| href(l, type_name, &entry.slug));
            let fields = entry.fields(locale);
            let title = name_of(entry, fields);
            let referring = |types: &[&str]| -> Vec<EntryLink> {
                catalogue
                    .referrers(&key)
                    .filter(|referrer| types.contains(&referrer.content_type.as_str()))
                    .filter_map(|referrer| catalogue.link(locale, &referrer.content_type, &referrer.slug))
                    .collect()
            };
            let page = match type_name {
                service::TYPE => {
                    let view = views::service_view(sources, entry, locale);
                    let ld = service_json_ld(sources, &self.site, entry, locale);
                    self.page("service.html", locale, title, page_alternates, Some(ld), minijinja::context! { service => template_value(&view) })?
                }
                office::TYPE => {
                    let view = entry.office_view(locale);
                    let ld = office_json_ld(&self.site, entry, locale);
                    self.page(
                        "office.html",
                        locale,
                        title,
                        page_alternates,
                        Some(ld),
                        minijinja::context! { office => template_value(&view), services => template_value(&referring(&[service::TYPE])) },
                    )?
                }
                _ => {
                    let teaser = [topic::TEASER, article::SUMMARY].map(|key| views::text(fields, key)).into_iter().find(|t| !t.is_empty());
                    let content = minijinja::context! {
                        name => title.clone(),
                        teaser => teaser,
                        sections => template_value(&views::sections(entry, locale)),
                        entries => template_value(&referring(&[topic::TYPE, service::TYPE, article::TYPE])),
                    };
                    self.page("entry.html", locale, title, page_alternates, None, content)?
                }
            };
            pages.push(page);
        }
        Ok(pages)
    }
}

#[derive(Serialize)]
struct LetterGroup {
    letter: String,
    anchor: String,
    services: Vec<EntryLink>,
}

/// Services by the first letter of their name in the locale (Ä with A).
fn letter_groups(catalogue: &Catalogue, locale: Locale) -> Vec<LetterGroup> {
    let mut services: Vec<(String, EntryLink)> = catalogue
        .of_type(service::TYPE)
        .filter_map(|s: &Summary| catalogue.link(locale, service::TYPE, &s.slug))
        .map(|l| (crate::search::analysis::german_normalize(&l.name.to_lowercase()), l))
        .collect();
    services.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.href.cmp(&b.1.href)));
    let mut groups: Vec<LetterGroup> = Vec::new();
    for (key, service) in services {
        let letter = key.chars().next().filter(char::is_ascii_alphabetic).map_or("#".to_owned(), |c| c.to_ascii_uppercase().to_string());
        match groups.last_mut() {
            Some(group) if group.letter == letter => group.services.push(service),
            _ => groups.push(LetterGroup {
                anchor: format!("letter-{}", if letter == "#" { "other".to_owned() } else { letter.to_lowercase() }),
                letter,
                services: vec![service],
            }),
        }
    }
    groups
}

fn office_json_ld(site: &Site, office: &SnapshotEntry, locale: Locale) -> Value {
    let fields = office.fields(locale);
    let text = |key: &str| fields.get(key).and_then(Value::as_str);
    let mut ld = json!({
        "@context": "https://schema.org",
        "@type": "GovernmentOffice",
        "@id": format!("{}{}", site.url, href(Locale::SOURCE, office::TYPE, &office.slug)),
        "url": format!("{}{}", site.url, href(locale, office::TYPE, &office.slug)),
        "name": name_of(office, fields),
    });
    if let Some(place) = fields.get(office::ADDRESS) {
        ld["address"] = json!({
            "@type": "PostalAddress",
            "streetAddress": format!("{} {}", views::text(place, address::STREET), views::text(place, address::HOUSE_NUMBER)),
            "postalCode": views::text(place, address::POSTAL_CODE),
            "addressLocality": views::text(place, address::CITY),
            "addressCountry": "DE",
        });
    }
    for (key, property) in [(office::PHONE, "telephone"), (office::EMAIL, "email"), (office::FAX, "faxNumber")] {
        if let Some(value) = text(key) {
            ld[property] = json!(value);
        }
    }
    if let Some((lat, lon)) = fields.get(office::GEO).and_then(|geo| Some((geo.get(geo::LAT)?, geo.get(geo::LON)?))) {
        ld["geo"] = json!({ "@type": "GeoCoordinates", "latitude": lat, "longitude": lon });
    }
    let general: Vec<Value> = fields
        .get(office::OPENING_HOURS)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|block| matches!(block.get(hours::KIND).and_then(Value::as_str), Some("general" | "visiting")))
        .flat_map(|block| block.get(hours::SLOTS).and_then(Value::as_array).cloned().unwrap_or_default())
        .map(|times| {
            let days: Vec<String> = times[slot::DAYS]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| SCHEMA_ORG_DAYS.iter().find(|(code, _)| Some(*code) == d.as_str()).map(|(_, day)| format!("https://schema.org/{day}")))
                .collect();
            json!({ "@type": "OpeningHoursSpecification", "dayOfWeek": days, "opens": times[slot::OPENS], "closes": times[slot::CLOSES] })
        })
        .collect();
    if !general.is_empty() {
        ld["openingHoursSpecification"] = json!(general);
    }
    let special: Vec<Value> = fields
        .get(office::EXCEPTIONS)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|change| {
            let from = change[exception::FROM].clone();
            let until = change.get(exception::UNTIL).cloned().unwrap_or_else(|| from.clone());
            let closed = change.get(exception::CLOSED).and_then(Value::as_bool).unwrap_or(false);
            let slots = if closed { vec![json!({ (slot::OPENS): "00:00", (slot::CLOSES): "00:00" })] } else { change.get(exception::SLOTS).and_then(Value::as_array).cloned().unwrap_or_default() };
            slots.into_iter().map(move |times| {
                json!({ "@type": "OpeningHoursSpecification", "validFrom": from, "validThrough": until, "opens": times[slot::OPENS], "closes": times[slot::CLOSES] })
            })
        })
        .collect();
    if !special.is_empty() {
        ld["specialOpeningHoursSpecification"] = json!(special);
    }
    ld
}

fn service_json_ld(sources: &Sources<'_>, site: &Site, service: &SnapshotEntry, locale: Locale) -> Value {
    let fields = service.fields(locale);
    let text = |key: &str| fields.get(key).and_then(Value::as_str).unwrap_or_default();
    let mut ld = json!({
        "@context": "https://schema.org",
        "@type": "GovernmentService",
        "@id": format!("{}{}", site.url, href(Locale::SOURCE, service::TYPE, &service.slug)),
        "url": format!("{}{}", site.url, href(locale, service::TYPE, &service.slug)),
        "name": name_of(service, fields),
        "inLanguage": lang(service.shown_locale(locale)),
        "areaServed": { "@type": "AdministrativeArea", "name": site.municipality },
    });
    let description = if text(service::TEASER).is_empty() { text(service::SHORT_TEXT) } else { text(service::TEASER) };
    if !description.is_empty() {
        ld["description"] = json!(description);
    }
    if let Some(leika) = service.content_type.leika(fields).filter(|leika| !leika.is_empty()) {
        ld["identifier"] = json!([{ "@type": "PropertyValue", "propertyID": "LeiKa", "value": leika }]);
    }
    let offices: Vec<Value> = fields
        .get(service::RESPONSIBLE_OFFICES)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get(responsibility::ROLE).and_then(Value::as_str) == Some("responsible"))
        .filter_map(|r| sources.snapshot.get(office::TYPE, r.get(responsibility::OFFICE)?.as_str()?))
        .map(|office| {
            let mut ld = office_json_ld(site, office, locale);
            if let Some(object) = ld.as_object_mut() {
                object.remove("@context");
            }
            ld
        })
        .collect();
    if !offices.is_empty() {
        ld["provider"] = json!(offices);
    }
    let mut channels = Vec::new();
    if let Some(url) = fields.get(service::ONLINE_SERVICE).and_then(|online| online.get(online_service::URL)) {
        channels.push(json!({ "@type": "ServiceChannel", "serviceUrl": url }));
    }
    channels.push(json!({ "@type": "ServiceChannel", "servicePhone": { "@type": "ContactPoint", "telephone": "115" } }));
    if let Some(duration) = fields.get(service::PROCESSING_TIME).and_then(|time| time.get(time_span::DURATION)).and_then(facts::iso_duration) {
        for channel in &mut channels {
            channel["processingTime"] = json!(duration);
        }
    }
    ld["availableChannel"] = json!(channels);
    let keywords: Vec<&str> = fields.get(service::KEYWORDS).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if !keywords.is_empty() {
        ld["keywords"] = json!(keywords.join(", "));
    }
    ld
}

fn root_page(site: &Site) -> String {
    let name = escape(&site.name);
    format!(
        "<!DOCTYPE html>\n<html lang=\"de\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"refresh\" content=\"0; url=/de/\">\n<title>{name}</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n</head>\n<body>\n<main>\n<h1>{name}</h1>\n<p><a href=\"/de/\" hreflang=\"de\">Deutsch</a></p>\n</main>\n</body>\n</html>\n"
    )
}

fn sitemap(site: &Site, pages: &[(String, Vec<Alternate>)]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\" xmlns:xhtml=\"http://www.w3.org/1999/xhtml\">\n",
    );
    let mut pages: Vec<&(String, Vec<Alternate>)> = pages.iter().collect();
    pages.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, alternates) in pages {
        xml.push_str(&format!("<url><loc>{}</loc>", escape(&format!("{}{path}", site.url))));
        if alternates.len() > 1 {
            for alternate in alternates {
                xml.push_str(&format!(
                    "<xhtml:link rel=\"alternate\" hreflang=\"{}\" href=\"{}\"/>",
                    alternate.hreflang,
                    escape(&format!("{}{}", site.url, alternate.href))
                ));
            }
        }
        xml.push_str("</url>\n");
    }
    xml.push_str("</urlset>\n");
    xml
}
