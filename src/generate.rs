//! Deterministic synthetic content in the editorial format, for
//! benchmarks: N services, N/50 offices, a dozen topics, German-like text
//! of 2–4 KB per service and references between them.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail};

const TOPICS: [&str; 12] =
    ["ausweise", "umzug", "familie", "fahrzeuge", "gewerbe", "bauen", "soziales", "migration", "abfall", "wahlen", "gesundheit", "bildung"];

pub const SUBJECTS: [&str; 24] = [
    "Personalausweis",
    "Meldebescheinigung",
    "Bewohnerparkausweis",
    "Gewerbeanzeige",
    "Baugenehmigung",
    "Hundesteuer",
    "Wohngeld",
    "Kitaplatz",
    "Fahrzeugzulassung",
    "Sondernutzung",
    "Gaststättenerlaubnis",
    "Fischereischein",
    "Anwohnerparken",
    "Sperrmüllabholung",
    "Geburtsurkunde",
    "Eheschließung",
    "Einbürgerung",
    "Aufenthaltstitel",
    "Führungszeugnis",
    "Wunschkennzeichen",
    "Briefwahlunterlagen",
    "Grundsteuer",
    "Schwerbehindertenparkausweis",
    "Lebensmittelkontrolle",
];

pub const ACTIONS: [&str; 8] = ["beantragen", "verlängern", "ändern", "abmelden", "anzeigen", "ersetzen", "prüfen lassen", "zurückgeben"];

const WORDS: [&str; 64] = [
    "Antrag",
    "Verwaltung",
    "Bürgerbüro",
    "Unterlagen",
    "Gebühr",
    "Nachweis",
    "Termin",
    "Behörde",
    "Frist",
    "Bescheid",
    "Stadt",
    "Anschrift",
    "Wohnsitz",
    "Verfahren",
    "Vorlage",
    "Bearbeitung",
    "Sachbearbeitung",
    "Voraussetzung",
    "Formular",
    "Unterschrift",
    "Vollmacht",
    "Zahlung",
    "Ausweis",
    "Dokument",
    "Auskunft",
    "Erlaubnis",
    "Genehmigung",
    "Prüfung",
    "Entscheidung",
    "Zuständigkeit",
    "Mitteilung",
    "Bestätigung",
    "Online",
    "persönlich",
    "schriftlich",
    "rechtzeitig",
    "vollständig",
    "gültig",
    "zuständige",
    "erforderliche",
    "kostenpflichtig",
    "gebührenfrei",
    "unverzüglich",
    "innerhalb",
    "spätestens",
    "gemeinsam",
    "zusätzlich",
    "jeweils",
    "bitte",
    "bringen",
    "beantragen",
    "erhalten",
    "vorlegen",
    "prüfen",
    "ausstellen",
    "einreichen",
    "melden",
    "zahlen",
    "beachten",
    "vereinbaren",
    "Öffnungszeiten",
    "Wartezeit",
    "Straße",
    "Änderung",
];

/// splitmix64: tiny, fast and deterministic across platforms.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn sentence(&mut self) -> String {
        let len = 8 + self.below(10);
        let mut words: Vec<&str> = (0..len).map(|_| self.pick(&WORDS)).collect();
        let first = words[0];
        let capitalised: String = first.chars().next().map(|c| c.to_uppercase().chain(first.chars().skip(1)).collect()).unwrap_or_default();
        words[0] = &capitalised;
        format!("{}.", words.join(" "))
    }

    fn paragraph(&mut self, sentences: usize) -> String {
        (0..sentences).map(|_| self.sentence()).collect::<Vec<_>>().join(" ")
    }
}

/// Writes the content folder; returns the number of files written.
pub fn write(out: &Path, services: usize, seed: u64, english: bool) -> anyhow::Result<usize> {
    if out.exists() && out.read_dir().map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} exists and is not empty", out.display());
    }
    let offices = (services / 50).max(1);
    let mut random = Random(seed);
    // Its own stream, so the German files do not depend on whether English is written.
    let mut english_random = Random(seed ^ 0x656e_676c_6973_6800);
    let mut written = 0;
    for (index, topic) in TOPICS.iter().enumerate() {
        let text = format!("+++\nname = \"Thema {topic}\"\nposition = {index}\nkeywords = [\"{topic}\"]\n+++\n{}\n", random.paragraph(4));
        write_file(&out.join("topic").join(format!("{topic}.md")), &text)?;
        written += 1;
    }
    for index in 0..offices {
        write_file(&out.join("office").join(format!("standort-{index:05}.md")), &office(index, &mut random))?;
        written += 1;
    }
    for index in 0..services {
        let folder = out.join("service").join(format!("gruppe-{:03}", index / 1000));
        write_file(&folder.join(format!("leistung-{index:06}.md")), &service(index, offices, services, &mut random))?;
        written += 1;
        if english {
            write_file(&folder.join(format!("leistung-{index:06}.en.md")), &english_service(index, &mut english_random))?;
            written += 1;
        }
    }
    Ok(written)
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn office(index: usize, random: &mut Random) -> String {
    let mut text = String::new();
    let _ = write!(
        text,
        "+++\nname = \"Bürgerbüro Standort {index}\"\nkind = \"citizens_office\"\nphone = \"+49 711 {:07}\"\nemail = \"standort{index}@stadt.example\"\n\n\
         [address]\nstreet = \"Hauptstraße\"\nhouse_number = \"{}\"\npostal_code = \"{}\"\ncity = \"Stuttgart\"\n\n\
         [geo]\nlat = {:.5}\nlon = {:.5}\n\n\
         [[opening_hours]]\nkind = \"general\"\nslots = [\n  {{ days = [\"mon\", \"tue\", \"wed\", \"fri\"], opens = \"08:00\", closes = \"12:00\" }},\n  {{ days = [\"thu\"], opens = \"13:00\", closes = \"18:00\" }},\n]\n\n\
         [[opening_hours]]\nkind = \"phone\"\nslots = [{{ days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"], opens = \"08:00\", closes = \"16:00\" }}]\n\n\
         [[exceptions]]\nfrom = \"2026-12-24\"\nuntil = \"2026-12-26\"\nclosed = true\n+++\n{}\n\n## Barrierefreiheit\n\n{}\n",
        index,
        1 + index % 200,
        70173 + index % 400,
        48.70 + (index % 100) as f64 * 0.001,
        9.10 + (index % 150) as f64 * 0.001,
        random.paragraph(3),
        random.paragraph(1),
    );
    text
}

fn service(index: usize, offices: usize, services: usize, random: &mut Random) -> String {
    let subject = random.pick(&SUBJECTS);
    let action = random.pick(&ACTIONS);
    let topic = random.pick(&TOPICS);
    let office = random.below(offices);
    let second_office = random.below(offices);
    let related = random.below(services);
    let mut text = String::new();
    let _ = write!(
        text,
        "+++\nleika = \"99{index:012}\"\ntypisierung = \"2b\"\ntarget_groups = [\"citizens\"]\ntopics = [\"{topic}\"]\n\
         name = \"{subject} {action} ({index})\"\nofficial_name = \"{subject} {action}\"\n\
         teaser = \"{}\"\nshort_text = \"{}\"\nkeywords = [\"{subject}\", \"{action}\", \"Nummer {index}\"]\n\
         related_services = [\"leistung-{related:06}\"]\n\n\
         [[fees]]\nkind = \"fixed\"\nlabel = \"Gebühr\"\namount = {}.{:02}\n\n\
         [[fees]]\nkind = \"variable\"\nlabel = \"Zusatzleistung\"\nmin = 5.0\nmax = 50.0\n\n\
         [processing_time]\nduration = {{ value = {}, unit = \"weeks\" }}\n\n\
         [[documents]]\ndirection = \"incoming\"\nname = \"Personalausweis oder Reisepass\"\n\n\
         [[responsible_offices]]\noffice = \"standort-{office:05}\"\nrole = \"responsible\"\n\n\
         [[responsible_offices]]\noffice = \"standort-{second_office:05}\"\nrole = \"receiving\"\n+++\n",
        random.sentence(),
        random.paragraph(2),
        5 + random.below(120),
        random.below(100),
        1 + random.below(6),
    );
    let _ = write!(text, "{}\n\n{}\n", random.paragraph(5), random.paragraph(4));
    for heading in ["Voraussetzungen", "Erforderliche Unterlagen", "Verfahrensablauf", "Hinweise"] {
        let _ = write!(text, "\n## {heading}\n\n");
        for _ in 0..2 + random.below(3) {
            let _ = writeln!(text, "- {}", random.sentence());
        }
    }
    let _ = write!(text, "\n## Rechtsgrundlagen\n\n- § {} Verwaltungsgesetz\n", 1 + random.below(90));
    text
}

/// A partial translation: name, teaser and lead text; the rest falls back.
fn english_service(index: usize, random: &mut Random) -> String {
    format!("+++\nname = \"Service number {index}\"\nteaser = \"{}\"\n+++\n{}\n", random.sentence(), random.paragraph(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_content_is_deterministic() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        write(&a.path().join("c"), 60, 7, true).unwrap();
        write(&b.path().join("c"), 60, 7, true).unwrap();
        let file = "service/gruppe-000/leistung-000042.md";
        let left = std::fs::read_to_string(a.path().join("c").join(file)).unwrap();
        assert_eq!(left, std::fs::read_to_string(b.path().join("c").join(file)).unwrap());
        assert!((1500..6000).contains(&left.len()), "service files are 2–4 KB, got {}", left.len());
    }
}
