//! Structured facts as German text for people: fees, durations, opening
//! hours, addresses. Shared by every channel that prints them.

use serde_json::Value;

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `46,00 EUR`, `27,60 EUR`.
pub fn money(amount: f64, currency: &str) -> String {
    let cents = (amount * 100.0).round() as i64;
    let euros = (cents / 100).to_string();
    // Thousands grouped with dots: 1.500,00.
    let mut grouped = String::new();
    for (i, digit) in euros.chars().enumerate() {
        if i > 0 && (euros.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    format!("{grouped},{:02} {}", (cents % 100).abs(), if currency.is_empty() { "EUR" } else { currency })
}

/// A fee: its amount (fixed, range or free), without the label.
pub fn fee_amount(fee: &Value) -> String {
    let currency = text(fee, "currency");
    let number = |key| fee.get(key).and_then(Value::as_f64);
    match (text(fee, "kind"), number("amount"), number("min"), number("max")) {
        ("free", ..) => "kostenlos".to_owned(),
        (_, Some(amount), _, _) => money(amount, currency),
        (_, None, Some(min), Some(max)) => format!("{} bis {}", money(min, currency), money(max, currency)),
        (_, None, Some(min), None) => format!("ab {}", money(min, currency)),
        (_, None, None, Some(max)) => format!("bis {}", money(max, currency)),
        _ => "nach Aufwand".to_owned(),
    }
}

/// `3 bis 4 Wochen`, `1 Tag`.
pub fn duration(duration: &Value) -> String {
    let value = duration.get("value").and_then(Value::as_i64).unwrap_or_default();
    let up_to = duration.get("up_to").and_then(Value::as_i64);
    let plural = up_to.unwrap_or(value) != 1;
    let unit = match (text(duration, "unit"), plural) {
        ("minutes", false) => "Minute",
        ("minutes", true) => "Minuten",
        ("hours", false) => "Stunde",
        ("hours", true) => "Stunden",
        ("days", false) => "Tag",
        ("days", true) => "Tage",
        ("working_days", false) => "Arbeitstag",
        ("working_days", true) => "Arbeitstage",
        ("weeks", false) => "Woche",
        ("weeks", true) => "Wochen",
        ("months", false) => "Monat",
        ("months", true) => "Monate",
        ("years", false) => "Jahr",
        (_, _) => "Jahre",
    };
    match up_to {
        Some(up_to) => format!("{value} bis {up_to} {unit}"),
        None => format!("{value} {unit}"),
    }
}

/// `1.3.2026`.
pub fn date(iso: &str) -> String {
    match chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d") {
        Ok(day) => day.format("%-d.%-m.%Y").to_string(),
        Err(_) => iso.to_owned(),
    }
}

/// A time span (processing time, deadline): duration, dates, note.
pub fn time_span(span: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(d) = span.get("duration") {
        parts.push(duration(d));
    }
    if let Some(period) = span.get("dates") {
        match (period.get("from").and_then(Value::as_str), period.get("until").and_then(Value::as_str)) {
            (Some(from), Some(until)) => parts.push(format!("{} bis {}", date(from), date(until))),
            (Some(from), None) => parts.push(format!("ab {}", date(from))),
            (None, Some(until)) => parts.push(format!("bis {}", date(until))),
            (None, None) => {}
        }
    }
    let note = text(span, "note");
    if !note.is_empty() {
        parts.push(note.to_owned());
    }
    parts.join(" – ")
}

/// `Eberhardstraße 39, 70173 Stuttgart`.
pub fn address(address: &Value) -> String {
    let street = format!("{} {}", text(address, "street"), text(address, "house_number"));
    let city = format!("{} {}", text(address, "postal_code"), text(address, "city"));
    [street.trim(), city.trim()].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", ")
}

const DAYS: [(&str, &str); 7] = [("mon", "Mo"), ("tue", "Di"), ("wed", "Mi"), ("thu", "Do"), ("fri", "Fr"), ("sat", "Sa"), ("sun", "So")];

/// `Mo–Mi`, `Mo, Mi, Fr`: consecutive days as a range.
pub fn days(days: &Value) -> String {
    let listed: Vec<usize> =
        days.as_array().into_iter().flatten().filter_map(|d| DAYS.iter().position(|(code, _)| Some(*code) == d.as_str())).collect();
    let mut sorted = listed;
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
            0 => vec![DAYS[start].1.to_owned()],
            1 => vec![DAYS[start].1.to_owned(), DAYS[end].1.to_owned()],
            _ => vec![format!("{}–{}", DAYS[start].1, DAYS[end].1)],
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The label of an opening-hours kind.
pub fn hours_kind(kind: &str) -> &'static str {
    match kind {
        "visiting" => "Besuchszeiten",
        "phone" => "Telefonisch erreichbar",
        "appointment_only" => "Nur mit Termin",
        "walk_in" => "Ohne Termin",
        _ => "Öffnungszeiten",
    }
}

/// The label of a responsibility role.
pub fn role(role: &str) -> &'static str {
    match role {
        "point_of_contact" => "Ansprechpunkt",
        "receiving" => "Annahmestelle",
        "appointment" => "Terminvergabe",
        _ => "Zuständige Stelle",
    }
}

/// Weekly hours as lines: `Mo–Mi 08:30–15:30`.
pub fn hour_lines(hours: &Value) -> Vec<String> {
    hours
        .get("slots")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|slot| format!("{} {}–{}", days(&slot["days"]), text(slot, "opens"), text(slot, "closes")))
        .collect()
}

/// A closure or special hours: `24.12.2026–26.12.2026: geschlossen`.
pub fn exception(exception: &Value) -> String {
    let from = date(text(exception, "from"));
    let when = match exception.get("until").and_then(Value::as_str) {
        Some(until) => format!("{from}–{}", date(until)),
        None => from,
    };
    let what = if exception.get("closed").and_then(Value::as_bool).unwrap_or(false) {
        "geschlossen".to_owned()
    } else {
        exception
            .get("slots")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|slot| format!("{}–{}", text(slot, "opens"), text(slot, "closes")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let note = text(exception, "note");
    if note.is_empty() { format!("{when}: {what}") } else { format!("{when}: {what} ({note})") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn german_facts() {
        assert_eq!(money(27.6, "EUR"), "27,60 EUR");
        assert_eq!(money(1500.0, "EUR"), "1.500,00 EUR");
        assert_eq!(money(1234567.891, "CHF"), "1.234.567,89 CHF");
        assert_eq!(money(0.0, ""), "0,00 EUR");
        assert_eq!(fee_amount(&json!({"kind": "variable", "min": 10, "max": 35.5})), "10,00 EUR bis 35,50 EUR");
        assert_eq!(fee_amount(&json!({"kind": "free", "label": "x"})), "kostenlos");
        assert_eq!(duration(&json!({"value": 3, "unit": "weeks", "up_to": 4})), "3 bis 4 Wochen");
        assert_eq!(duration(&json!({"value": 1, "unit": "days"})), "1 Tag");
        assert_eq!(days(&json!(["wed", "mon", "tue"])), "Mo–Mi");
        assert_eq!(days(&json!(["mon", "wed", "fri"])), "Mo, Mi, Fr");
        assert_eq!(days(&json!(["sat", "sun"])), "Sa, So");
        assert_eq!(exception(&json!({"from": "2026-12-24", "until": "2026-12-26", "closed": true})), "24.12.2026–26.12.2026: geschlossen");
        assert_eq!(address(&json!({"street": "Eberhardstraße", "house_number": "39", "postal_code": "70173", "city": "Stuttgart"})), "Eberhardstraße 39, 70173 Stuttgart");
    }
}
