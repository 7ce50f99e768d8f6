//! Public holidays of the German federal states, computed for any year
//! from the rules of the states' holiday laws: the fixed days, the feasts
//! that move with Easter, Buß- und Bettag, the days that came or went in a
//! given year and the one-off days a state declared. Offices are closed on
//! them unless an office names other hours for the date.
//!
//! Days that are holidays only in some municipalities of a state are not
//! listed: Mariä Himmelfahrt in the mostly Catholic municipalities of
//! Bavaria, Fronleichnam in some of Saxony and Thuringia, and Augsburg's
//! Hohes Friedensfest. tests/api/holidays.rs compares every state's days
//! with the `holidays` package of PyPI (its state-wide `PUBLIC` category).

use std::ops::RangeInclusive;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// The years compared date by date with an independent implementation;
/// the web site's "open now" knows the holidays of these years.
pub const COMPARED_YEARS: RangeInclusive<i32> = 2020..=2045;

/// A German federal state, named by its ISO 3166-2 code without `DE-`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub enum State {
    #[serde(rename = "BW")]
    BadenWuerttemberg,
    #[serde(rename = "BY")]
    Bayern,
    #[serde(rename = "BE")]
    Berlin,
    #[serde(rename = "BB")]
    Brandenburg,
    #[serde(rename = "HB")]
    Bremen,
    #[serde(rename = "HH")]
    Hamburg,
    #[serde(rename = "HE")]
    Hessen,
    #[serde(rename = "MV")]
    MecklenburgVorpommern,
    #[serde(rename = "NI")]
    Niedersachsen,
    #[serde(rename = "NW")]
    NordrheinWestfalen,
    #[serde(rename = "RP")]
    RheinlandPfalz,
    #[serde(rename = "SL")]
    Saarland,
    #[serde(rename = "SN")]
    Sachsen,
    #[serde(rename = "ST")]
    SachsenAnhalt,
    #[serde(rename = "SH")]
    SchleswigHolstein,
    #[serde(rename = "TH")]
    Thueringen,
}

use State::*;

impl State {
    pub const ALL: [State; 16] = [
        BadenWuerttemberg,
        Bayern,
        Berlin,
        Brandenburg,
        Bremen,
        Hamburg,
        Hessen,
        MecklenburgVorpommern,
        Niedersachsen,
        NordrheinWestfalen,
        RheinlandPfalz,
        Saarland,
        Sachsen,
        SachsenAnhalt,
        SchleswigHolstein,
        Thueringen,
    ];

    /// `BW`, `BY`, …
    pub const fn code(self) -> &'static str {
        match self {
            BadenWuerttemberg => "BW",
            Bayern => "BY",
            Berlin => "BE",
            Brandenburg => "BB",
            Bremen => "HB",
            Hamburg => "HH",
            Hessen => "HE",
            MecklenburgVorpommern => "MV",
            Niedersachsen => "NI",
            NordrheinWestfalen => "NW",
            RheinlandPfalz => "RP",
            Saarland => "SL",
            Sachsen => "SN",
            SachsenAnhalt => "ST",
            SchleswigHolstein => "SH",
            Thueringen => "TH",
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            BadenWuerttemberg => "Baden-Württemberg",
            Bayern => "Bayern",
            Berlin => "Berlin",
            Brandenburg => "Brandenburg",
            Bremen => "Bremen",
            Hamburg => "Hamburg",
            Hessen => "Hessen",
            MecklenburgVorpommern => "Mecklenburg-Vorpommern",
            Niedersachsen => "Niedersachsen",
            NordrheinWestfalen => "Nordrhein-Westfalen",
            RheinlandPfalz => "Rheinland-Pfalz",
            Saarland => "Saarland",
            Sachsen => "Sachsen",
            SachsenAnhalt => "Sachsen-Anhalt",
            SchleswigHolstein => "Schleswig-Holstein",
            Thueringen => "Thüringen",
        }
    }
}

impl TryFrom<String> for State {
    type Error = String;

    fn try_from(code: String) -> Result<State, String> {
        State::ALL.into_iter().find(|state| state.code() == code).ok_or_else(|| {
            let known: Vec<String> = State::ALL.iter().map(|state| format!("{} ({})", state.code(), state.name())).collect();
            format!("`{code}` is not a German federal state; name one by its code: {}", known.join(", "))
        })
    }
}

/// A public holiday: its date and its name in German and English.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Holiday {
    pub date: NaiveDate,
    pub de: &'static str,
    pub en: &'static str,
}

/// When in a year a holiday falls.
enum Day {
    Fixed(u32, u32),
    /// Days after Easter Sunday (before it when negative).
    Easter(i64),
    /// Buß- und Bettag: the Wednesday before 23 November.
    WednesdayBeforeNovember23,
}

/// Where a holiday is kept.
enum Area {
    Germany,
    States(&'static [State]),
}

struct Rule {
    de: &'static str,
    en: &'static str,
    day: Day,
    area: Area,
    years: RangeInclusive<i32>,
}

/// The years since reunification (3 October 1990), when today's federal holidays begin.
const ALWAYS: RangeInclusive<i32> = 1991..=i32::MAX;

const fn rule(de: &'static str, en: &'static str, day: Day, area: Area, years: RangeInclusive<i32>) -> Rule {
    Rule { de, en, day, area, years }
}

const fn once(year: i32, month: u32, day: u32, de: &'static str, en: &'static str, area: Area) -> Rule {
    rule(de, en, Day::Fixed(month, day), area, year..=year)
}

const RULES: [Rule; 24] = [
    rule("Neujahr", "New Year's Day", Day::Fixed(1, 1), Area::Germany, ALWAYS),
    rule("Heilige Drei Könige", "Epiphany", Day::Fixed(1, 6), Area::States(&[BadenWuerttemberg, Bayern, SachsenAnhalt]), ALWAYS),
    rule("Frauentag", "International Women's Day", Day::Fixed(3, 8), Area::States(&[Berlin]), 2019..=i32::MAX),
    rule("Frauentag", "International Women's Day", Day::Fixed(3, 8), Area::States(&[MecklenburgVorpommern]), 2023..=i32::MAX),
    rule("Karfreitag", "Good Friday", Day::Easter(-2), Area::Germany, ALWAYS),
    rule("Ostersonntag", "Easter Sunday", Day::Easter(0), Area::States(&[Brandenburg]), ALWAYS),
    rule("Ostermontag", "Easter Monday", Day::Easter(1), Area::Germany, ALWAYS),
    rule("Erster Mai", "Labour Day", Day::Fixed(5, 1), Area::Germany, ALWAYS),
    once(
        2020,
        5,
        8,
        "75. Jahrestag der Befreiung vom Nationalsozialismus und der Beendigung des Zweiten Weltkriegs in Europa",
        "75th anniversary of the liberation from National Socialism and the end of the Second World War in Europe",
        Area::States(&[Berlin]),
    ),
    once(
        2025,
        5,
        8,
        "80. Jahrestag der Befreiung vom Nationalsozialismus und der Beendigung des Zweiten Weltkriegs in Europa",
        "80th anniversary of the liberation from National Socialism and the end of the Second World War in Europe",
        Area::States(&[Berlin]),
    ),
    rule("Christi Himmelfahrt", "Ascension Day", Day::Easter(39), Area::Germany, ALWAYS),
    rule("Pfingstsonntag", "Whit Sunday", Day::Easter(49), Area::States(&[Brandenburg]), ALWAYS),
    rule("Pfingstmontag", "Whit Monday", Day::Easter(50), Area::Germany, ALWAYS),
    rule(
        "Fronleichnam",
        "Corpus Christi",
        Day::Easter(60),
        Area::States(&[BadenWuerttemberg, Bayern, Hessen, NordrheinWestfalen, RheinlandPfalz, Saarland]),
        ALWAYS,
    ),
    once(2028, 6, 17, "75. Jahrestag des Aufstandes vom 17. Juni 1953", "75th anniversary of the uprising of 17 June 1953", Area::States(&[Berlin])),
    rule("Mariä Himmelfahrt", "Assumption Day", Day::Fixed(8, 15), Area::States(&[Saarland]), ALWAYS),
    rule("Weltkindertag", "World Children's Day", Day::Fixed(9, 20), Area::States(&[Thueringen]), 2019..=i32::MAX),
    rule("Tag der Deutschen Einheit", "German Unity Day", Day::Fixed(10, 3), Area::Germany, ALWAYS),
    rule(
        "Reformationstag",
        "Reformation Day",
        Day::Fixed(10, 31),
        Area::States(&[Brandenburg, MecklenburgVorpommern, Sachsen, SachsenAnhalt, Thueringen]),
        ALWAYS,
    ),
    rule("Reformationstag", "Reformation Day", Day::Fixed(10, 31), Area::States(&[Bremen, Hamburg, Niedersachsen, SchleswigHolstein]), 2018..=i32::MAX),
    rule(
        "Allerheiligen",
        "All Saints' Day",
        Day::Fixed(11, 1),
        Area::States(&[BadenWuerttemberg, Bayern, NordrheinWestfalen, RheinlandPfalz, Saarland]),
        ALWAYS,
    ),
    // Kept all over Germany until 1994, when it was given up to fund the care insurance; Saxony kept it.
    rule("Buß- und Bettag", "Day of Repentance and Prayer", Day::WednesdayBeforeNovember23, Area::States(&[Sachsen]), ALWAYS),
    rule("Erster Weihnachtstag", "Christmas Day", Day::Fixed(12, 25), Area::Germany, ALWAYS),
    rule("Zweiter Weihnachtstag", "Boxing Day", Day::Fixed(12, 26), Area::Germany, ALWAYS),
];

/// Before 1995 Buß- und Bettag was a holiday in every state; and
/// Reformationstag 2017, its 500th anniversary, once.
const EARLIER: [Rule; 2] = [
    rule("Buß- und Bettag", "Day of Repentance and Prayer", Day::WednesdayBeforeNovember23, Area::Germany, 1991..=1994),
    once(2017, 10, 31, "Reformationstag", "Reformation Day", Area::Germany),
];

/// Easter Sunday of a Gregorian year (the anonymous algorithm of 1876
/// known as Meeus/Jones/Butcher); none for years chrono cannot represent.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

impl Day {
    fn date(&self, year: i32) -> Option<NaiveDate> {
        match *self {
            Day::Fixed(month, day) => NaiveDate::from_ymd_opt(year, month, day),
            Day::Easter(offset) => easter_sunday(year)?.checked_add_signed(chrono::TimeDelta::try_days(offset)?),
            Day::WednesdayBeforeNovember23 => {
                let november_22 = NaiveDate::from_ymd_opt(year, 11, 22)?;
                let back = (november_22.weekday().num_days_from_monday() + 7 - Weekday::Wed.num_days_from_monday()) % 7;
                november_22.checked_sub_days(Days::new(back.into()))
            }
        }
    }
}

impl Area {
    fn includes(&self, state: Option<State>) -> bool {
        match self {
            Area::Germany => true,
            Area::States(states) => state.is_some_and(|state| states.contains(&state)),
        }
    }
}

/// The public holidays of a year in a state, by date; without a state,
/// those kept all over Germany. A date two rules give is listed once.
pub fn public_holidays(state: Option<State>, year: i32) -> Vec<Holiday> {
    let mut holidays: Vec<Holiday> = RULES
        .iter()
        .chain(&EARLIER)
        .filter(|rule| rule.years.contains(&year) && rule.area.includes(state))
        .filter_map(|rule| Some(Holiday { date: rule.day.date(year)?, de: rule.de, en: rule.en }))
        .collect();
    holidays.sort_by_key(|holiday| holiday.date);
    holidays.dedup_by_key(|holiday| holiday.date);
    holidays
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn holiday_on(state: Option<State>, date: NaiveDate) -> Option<Holiday> {
        public_holidays(state, date.year()).into_iter().find(|holiday| holiday.date == date)
    }

    #[test]
    fn easter_falls_on_the_known_sundays() {
        for (year, easter) in [
            (1818, "1818-03-22"),
            (1943, "1943-04-25"),
            (2000, "2000-04-23"),
            (2008, "2008-03-23"),
            (2019, "2019-04-21"),
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2026, "2026-04-05"),
            (2038, "2038-04-25"),
            (2285, "2285-03-22"),
        ] {
            assert_eq!(easter_sunday(year), Some(date(easter)), "{year}");
        }
    }

    #[test]
    fn baden_wuerttemberg_2026() {
        let listed: Vec<(String, &str)> = public_holidays(Some(BadenWuerttemberg), 2026).iter().map(|h| (h.date.to_string(), h.de)).collect();
        let expected = [
            ("2026-01-01", "Neujahr"),
            ("2026-01-06", "Heilige Drei Könige"),
            ("2026-04-03", "Karfreitag"),
            ("2026-04-06", "Ostermontag"),
            ("2026-05-01", "Erster Mai"),
            ("2026-05-14", "Christi Himmelfahrt"),
            ("2026-05-25", "Pfingstmontag"),
            ("2026-06-04", "Fronleichnam"),
            ("2026-10-03", "Tag der Deutschen Einheit"),
            ("2026-11-01", "Allerheiligen"),
            ("2026-12-25", "Erster Weihnachtstag"),
            ("2026-12-26", "Zweiter Weihnachtstag"),
        ];
        assert_eq!(listed, expected.map(|(d, n)| (d.to_owned(), n)));
    }

    #[test]
    fn state_days_begin_in_their_year() {
        let named = |state, year, name: &str| public_holidays(Some(state), year).iter().any(|h| h.de == name);
        assert!(!named(Berlin, 2018, "Frauentag") && named(Berlin, 2019, "Frauentag"));
        assert!(!named(MecklenburgVorpommern, 2022, "Frauentag") && named(MecklenburgVorpommern, 2023, "Frauentag"));
        assert!(!named(Thueringen, 2018, "Weltkindertag") && named(Thueringen, 2019, "Weltkindertag"));
        for state in [Bremen, Hamburg, Niedersachsen, SchleswigHolstein] {
            assert!(!named(state, 2016, "Reformationstag") && named(state, 2017, "Reformationstag") && named(state, 2018, "Reformationstag"));
        }
        assert!(named(Bayern, 1994, "Buß- und Bettag") && !named(Bayern, 1995, "Buß- und Bettag"));
        assert_eq!(holiday_on(Some(Sachsen), date("2023-11-22")).map(|h| h.de), Some("Buß- und Bettag"), "22 November itself when a Wednesday");
        assert_eq!(holiday_on(Some(Sachsen), date("2026-11-18")).map(|h| h.de), Some("Buß- und Bettag"));
        assert_eq!(
            holiday_on(Some(Berlin), date("2025-05-08")).map(|h| h.en),
            Some("80th anniversary of the liberation from National Socialism and the end of the Second World War in Europe")
        );
        assert_eq!(holiday_on(Some(Berlin), date("2026-05-08")), None, "a one-off day");
    }

    #[test]
    fn without_a_state_only_the_days_kept_all_over_germany() {
        let names: Vec<&str> = public_holidays(None, 2026).iter().map(|h| h.de).collect();
        assert_eq!(names.len(), 9, "{names:?}");
        assert!(!names.contains(&"Fronleichnam") && names.contains(&"Tag der Deutschen Einheit"));
    }

    #[test]
    fn years_beyond_the_calendar_give_no_days() {
        assert_eq!(easter_sunday(i32::MAX), None);
        assert!(public_holidays(Some(Bayern), i32::MAX).is_empty());
        assert!(public_holidays(Some(Bayern), i32::MIN).is_empty());
    }
}
