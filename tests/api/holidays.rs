//! katalog's public holidays of every federal state, and of Germany as a
//! whole, compared date by date and by name with the `holidays` package of
//! PyPI, which is installed on first use into a virtualenv under the target
//! directory (`KATALOG_PYTHON` picks the interpreter).
//!
//! The package's default category is compared: the days kept in the whole
//! state. katalog lists the same days for every year compared, so there is
//! no deviation to allow for (the days of some municipalities only, which
//! the package files under its `CATHOLIC` category, are left out by both).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use katalog::holidays::{COMPARED_YEARS, State, public_holidays};

use crate::helpers::{python_tool, text};

const REFERENCE: &str = "holidays==0.109";

/// Asks the reference for each region's holidays, as `{region: {date: [names]}}`
/// (the region `DE` is Germany without a state).
const QUERY: &str = r#"
import json, sys
import holidays
first, last, regions = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
years = range(first, last + 1)
answer = {}
for region in regions:
    days = holidays.country_holidays("DE", subdiv=None if region == "DE" else region, years=years, language="de")
    answer[region] = {day.isoformat(): sorted(name.split("; ")) for day, name in sorted(days.items())}
print(json.dumps(answer))
"#;

type Days = BTreeMap<String, Vec<String>>;

fn katalog_days(state: Option<State>) -> Days {
    let mut days = Days::new();
    for year in COMPARED_YEARS {
        for holiday in public_holidays(state, year) {
            days.insert(holiday.date.to_string(), vec![holiday.de.to_owned()]);
        }
    }
    days
}

#[test]
fn every_states_holidays_match_the_reference() {
    let python = |root: &Path| root.join("bin/python");
    let works = |root: &Path| Command::new(python(root)).args(["-c", "import holidays"]).output().is_ok_and(|o| o.status.success());
    let python = python(&python_tool("holidays-0.109", REFERENCE, works));
    let regions: Vec<(&str, Option<State>)> = std::iter::once(("DE", None)).chain(State::ALL.map(|state| (state.code(), Some(state)))).collect();
    let output = Command::new(&python)
        .args(["-c", QUERY, &COMPARED_YEARS.start().to_string(), &COMPARED_YEARS.end().to_string()])
        .args(regions.iter().map(|(code, _)| code))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let reference: BTreeMap<String, Days> = serde_json::from_slice(&output.stdout).unwrap();

    let mut differences = Vec::new();
    for (code, state) in &regions {
        let theirs = &reference[*code];
        let ours = katalog_days(*state);
        for date in theirs.keys().chain(ours.keys()).collect::<std::collections::BTreeSet<_>>() {
            let (ours, theirs) = (ours.get(date), theirs.get(date));
            if ours != theirs {
                differences.push(format!("{code} {date}: katalog {ours:?}, holidays {theirs:?}"));
            }
        }
    }
    assert!(differences.is_empty(), "katalog's holidays differ from the reference:\n{}", differences.join("\n"));
}
