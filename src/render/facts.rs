//! Structured facts as text for people, in German or English: fees,
//! durations, opening hours, addresses. Shared by every channel that
//! prints them.

use serde_json::Value;

use crate::content::Locale;
use crate::content::known_fields as field;

/// The language facts are written in: English, or German (also for
/// Leichte Sprache).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Words {
    German,
    English,
}

impl Words {
    pub fn of(locale: Locale) -> Words {
        if locale == Locale::En { Words::English } else { Words::German }
    }

    fn pick(self, german: &'static str, english: &'static str) -> &'static str {
        match self {
            Words::German => german,
            Words::English => english,
        }
    }
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `1.500,00 EUR` in German, `EUR 1,500.00` in English.
pub fn money_in(words: Words, amount: f64, currency: &str) -> String {
    let german = money(amount, currency);
    match words {
        Words::German => german,
        Words::English => {
            let (number, currency) = german.split_once(' ').unwrap_or((&german, "EUR"));
            let swapped: String = number
                .chars()
                .map(|c| match c {
                    '.' => ',',
                    ',' => '.',
                    c => c,
                })
                .collect();
            format!("{currency} {swapped}")
        }
    }
}

/// `46,00 EUR`, `1.500,00 EUR`.
pub fn money(amount: f64, currency: &str) -> String {
    let cents = (amount * 100.0).round() as i64;
    let euros = (cents / 100).to_string();
    // Thousands grouped with dots: 1.500,00.
    let mut grouped = String::new();
    for (i, digit) in euros.chars().enumerate() {
        if i > 0 && (euros.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    format!("{grouped},{:02} {}", (cents % 100).abs(), if currency.is_empty() { "EUR" } else { currency })
}

/// A fee: its amount (fixed, range or free), without the label.
pub fn fee_amount(words: Words, fee: &Value) -> String {
    let currency = text(fee, field::fee::CURRENCY);
    let number = |key| fee.get(key).and_then(Value::as_f64);
    let money = |amount| money_in(words, amount, currency);
    match (text(fee, field::fee::KIND), number(field::fee::AMOUNT), number(field::fee::MIN), number(field::fee::MAX)) {
        ("free", ..) => words.pick("kostenlos", "free of charge").to_owned(),
        (_, Some(amount), _, _) => money(amount),
        (_, None, Some(min), Some(max)) => format!("{} {} {}", money(min), words.pick("bis", "to"), money(max)),
        (_, None, Some(min), None) => format!("{} {}", words.pick("ab", "from"), money(min)),
        (_, None, None, Some(max)) => format!("{} {}", words.pick("bis", "up to"), money(max)),
        _ => words.pick("nach Aufwand", "depending on the effort").to_owned(),
    }
}

/// `3 bis 4 Wochen`, `1 day`.
pub fn duration(words: Words, duration: &Value) -> String {
    let value = duration.get(field::duration::VALUE).and_then(Value::as_i64).unwrap_or_default();
    let up_to = duration.get(field::duration::UP_TO).and_then(Value::as_i64);
    let plural = up_to.unwrap_or(value) != 1;
    let (one, many) = match (text(duration, field::duration::UNIT), words) {
        ("minutes", Words::German) => ("Minute", "Minuten"),
        ("hours", Words::German) => ("Stunde", "Stunden"),
        ("days", Words::German) => ("Tag", "Tage"),
        ("working_days", Words::German) => ("Arbeitstag", "Arbeitstage"),
        ("weeks", Words::German) => ("Woche", "Wochen"),
        ("months", Words::German) => ("Monat", "Monate"),
        (_, Words::German) => ("Jahr", "Jahre"),
        ("minutes", Words::English) => ("minute", "minutes"),
        ("hours", Words::English) => ("hour", "hours"),
        ("days", Words::English) => ("day", "days"),
        ("working_days", Words::English) => ("working day", "working days"),
        ("weeks", Words::English) => ("week", "weeks"),
        ("months", Words::English) => ("month", "months"),
        (_, Words::English) => ("year", "years"),
    };
    let unit = if plural { many } else { one };
    match up_to {
        Some(up_to) => format!("{value} {} {up_to} {unit}", words.pick("bis", "to")),
        None => format!("{value} {unit}"),
    }
}

/// An ISO 8601 duration for a single value (`P3W`); ranges have none.
pub fn iso_duration(duration: &Value) -> Option<String> {
    if duration.get(field::duration::UP_TO).is_some() {
        return None;
    }
    let value = duration.get(field::duration::VALUE)?.as_i64()?;
    Some(match duration.get(field::duration::UNIT)?.as_str()? {
        "minutes" => format!("PT{value}M"),
        "hours" => format!("PT{value}H"),
        "days" | "working_days" => format!("P{value}D"),
        "weeks" => format!("P{value}W"),
        "months" => format!("P{value}M"),
        _ => format!("P{value}Y"),
    })
}

/// `1.3.2026`, `2026-03-01`.
pub fn date(words: Words, iso: &str) -> String {
    match (chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d"), words) {
        (Ok(day), Words::German) => day.format("%-d.%-m.%Y").to_string(),
        _ => iso.to_owned(),
    }
}

/// A time span (processing time, deadline): duration, dates, note.
pub fn time_span(words: Words, span: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(d) = span.get(field::time_span::DURATION) {
        parts.push(duration(words, d));
    }
    if let Some(period) = span.get(field::time_span::DATES) {
        let day = |key| period.get(key).and_then(Value::as_str).map(|d| date(words, d));
        match (day(field::dates::FROM), day(field::dates::UNTIL)) {
            (Some(from), Some(until)) => parts.push(format!("{from} {} {until}", words.pick("bis", "to"))),
            (Some(from), None) => parts.push(format!("{} {from}", words.pick("ab", "from"))),
            (None, Some(until)) => parts.push(format!("{} {until}", words.pick("bis", "until"))),
            (None, None) => {}
        }
    }
    let note = text(span, field::time_span::NOTE);
    if !note.is_empty() {
        parts.push(note.to_owned());
    }
    parts.join(" – ")
}

/// `Eberhardstraße 39, 70173 Stuttgart`.
pub fn address(address: &Value) -> String {
    let street = format!("{} {}", text(address, field::address::STREET), text(address, field::address::HOUSE_NUMBER));
    let city = format!("{} {}", text(address, field::address::POSTAL_CODE), text(address, field::address::CITY));
    [street.trim(), city.trim()].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", ")
}

const DAYS: [(&str, &str, &str); 7] =
    [("mon", "Mo", "Mon"), ("tue", "Di", "Tue"), ("wed", "Mi", "Wed"), ("thu", "Do", "Thu"), ("fri", "Fr", "Fri"), ("sat", "Sa", "Sat"), ("sun", "So", "Sun")];

/// The schema.org names of the days, in `DAYS` order.
pub const SCHEMA_ORG_DAYS: [(&str, &str); 7] =
    [("mon", "Monday"), ("tue", "Tuesday"), ("wed", "Wednesday"), ("thu", "Thursday"), ("fri", "Friday"), ("sat", "Saturday"), ("sun", "Sunday")];

/// `Mo–Mi`, `Mon, Wed, Fri`: consecutive days as a range.
pub fn days(words: Words, days: &Value) -> String {
    let name = |day: usize| words.pick(DAYS[day].1, DAYS[day].2);
    let mut sorted: Vec<usize> = days.as_array().into_iter().flatten().filter_map(|d| DAYS.iter().position(|(code, ..)| Some(*code) == d.as_str())).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for day in sorted {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == day => *end = day,
            _ => runs.push((day, day)),
        }
    }
    runs.iter()
        .flat_map(|&(start, end)| match end - start {
            0 => vec![name(start).to_owned()],
            1 => vec![name(start).to_owned(), name(end).to_owned()],
            _ => vec![format!("{}–{}", name(start), name(end))],
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The label of an opening-hours kind.
pub fn hours_kind(words: Words, kind: &str) -> &'static str {
    match kind {
        "visiting" => words.pick("Besuchszeiten", "Visiting hours"),
        "phone" => words.pick("Telefonisch erreichbar", "By phone"),
        "appointment_only" => words.pick("Nur mit Termin", "By appointment only"),
        "walk_in" => words.pick("Ohne Termin", "Without appointment"),
        _ => words.pick("Öffnungszeiten", "Opening hours"),
    }
}

/// The label of a responsibility role.
pub fn role(words: Words, role: &str) -> &'static str {
    match role {
        "point_of_contact" => words.pick("Ansprechpunkt", "Point of contact"),
        "receiving" => words.pick("Annahmestelle", "Where to hand in"),
        "appointment" => words.pick("Terminvergabe", "Appointments"),
        _ => words.pick("Zuständige Stelle", "Responsible office"),
    }
}

/// Weekly hours as lines: `Mo–Mi 08:30–15:30`.
pub fn hour_lines(words: Words, hours: &Value) -> Vec<String> {
    hours
        .get(field::hours::SLOTS)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|slot| format!("{} {}–{}", days(words, &slot[field::slot::DAYS]), text(slot, field::slot::OPENS), text(slot, field::slot::CLOSES)))
        .collect()
}

/// A closure or special hours: `24.12.2026–26.12.2026: geschlossen`.
pub fn exception(words: Words, exception: &Value) -> String {
    let from = date(words, text(exception, field::exception::FROM));
    let when = match exception.get(field::exception::UNTIL).and_then(Value::as_str) {
        Some(until) => format!("{from}–{}", date(words, until)),
        None => from,
    };
    let what = if exception.get(field::exception::CLOSED).and_then(Value::as_bool).unwrap_or(false) {
        words.pick("geschlossen", "closed").to_owned()
    } else {
        exception
            .get(field::exception::SLOTS)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|slot| format!("{}–{}", text(slot, field::slot::OPENS), text(slot, field::slot::CLOSES)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let note = text(exception, field::exception::NOTE);
    if note.is_empty() { format!("{when}: {what}") } else { format!("{when}: {what} ({note})") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn facts_in_words() {
        use Words::{English, German};
        assert_eq!(money(27.6, "EUR"), "27,60 EUR");
        assert_eq!(money(1500.0, "EUR"), "1.500,00 EUR");
        assert_eq!(money(1234567.891, "CHF"), "1.234.567,89 CHF");
        assert_eq!(money(0.0, ""), "0,00 EUR");
        assert_eq!(money_in(English, 1500.5, "EUR"), "EUR 1,500.50");
        assert_eq!(fee_amount(German, &json!({"kind": "variable", "min": 10, "max": 35.5})), "10,00 EUR bis 35,50 EUR");
        assert_eq!(fee_amount(German, &json!({"kind": "free", "label": "x"})), "kostenlos");
        assert_eq!(fee_amount(English, &json!({"kind": "free", "label": "x"})), "free of charge");
        assert_eq!(duration(German, &json!({"value": 3, "unit": "weeks", "up_to": 4})), "3 bis 4 Wochen");
        assert_eq!(duration(German, &json!({"value": 1, "unit": "days"})), "1 Tag");
        assert_eq!(duration(English, &json!({"value": 2, "unit": "working_days"})), "2 working days");
        assert_eq!(days(German, &json!(["wed", "mon", "tue"])), "Mo–Mi");
        assert_eq!(days(German, &json!(["mon", "wed", "fri"])), "Mo, Mi, Fr");
        assert_eq!(days(English, &json!(["sat", "sun"])), "Sat, Sun");
        assert_eq!(exception(German, &json!({"from": "2026-12-24", "until": "2026-12-26", "closed": true})), "24.12.2026–26.12.2026: geschlossen");
        assert_eq!(
            address(&json!({"street": "Eberhardstraße", "house_number": "39", "postal_code": "70173", "city": "Stuttgart"})),
            "Eberhardstraße 39, 70173 Stuttgart"
        );
    }
}
