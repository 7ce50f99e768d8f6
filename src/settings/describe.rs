//! The settings described from their declaration: `config show` (the
//! values a command would use and where each came from) and the README's
//! table of settings.

use super::FILE_ARG;
use super::resolve::{Kind, Setting, Source, declarations, is_list};

/// The settings as a configuration file, each value followed by where it
/// came from; a secret is only said to be set, and an unset setting is a
/// comment.
pub fn show(command: &str, settings: &[Setting]) -> String {
    let mut out = format!("# The settings of `katalog {command}`, each with where it comes from: flag, environment variable, file:line:column or default.\n");
    for (section, settings) in by_section(settings.iter(), |setting| &setting.arg) {
        if !section.is_empty() {
            out.push_str(&format!("\n[{section}]\n"));
        }
        for (name, setting) in settings {
            let from = match &setting.source {
                Source::Flag(name) | Source::Environment(name) | Source::File(name) => name.as_str(),
                Source::Default => "default",
            };
            let line = if setting.values.is_empty() && !is_list(&setting.arg) {
                let default = documented_default(&setting.arg).map(|default| format!(" ({default})")).unwrap_or_default();
                format!("# {name}: not set{default}")
            } else if setting.arg.is_hide_env_values_set() {
                format!("# {name}: set, hidden  # {from}")
            } else {
                format!("{name} = {}  # {from}", toml_value(&setting.arg, &setting.values))
            };
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// The README's table of every setting of every command (with the help of
/// its first declaration), followed by the configuration file's own.
pub fn table(cli: &clap::Command) -> String {
    let declared = declarations(cli);
    let mut out = String::from("| setting | `katalog.toml` | environment | flag | default |\n|---|---|---|---|---|\n");
    for (section, args) in by_section(declared.into_iter(), |arg| *arg) {
        for (name, arg) in args {
            let key = if section.is_empty() { format!("`{name}`") } else { format!("`[{section}] {name}`") };
            out.push_str(&row(arg, &(key + if is_list(arg) { " (list)" } else { "" })));
        }
    }
    if let Some(file) = cli.get_arguments().find(|arg| arg.get_id() == FILE_ARG) {
        out.push_str(&row(file, "—"));
    }
    out
}

fn row(arg: &clap::Arg, key: &str) -> String {
    let env = arg.get_env().map_or_else(|| "—".to_owned(), |env| format!("`{}`", env.to_string_lossy()));
    let env_note = match (Kind::of(arg), arg.get_value_delimiter()) {
        (Kind::Switch, _) => " (`true`/`false`)".to_owned(),
        (_, Some(',')) => " (comma-separated)".to_owned(),
        (_, Some(delimiter)) => format!(" (separated by `{delimiter}`)"),
        _ => String::new(),
    };
    let flag = arg.get_long().map_or_else(|| "—".to_owned(), |long| format!("`--{long}`{}", if is_list(arg) { " (repeat)" } else { "" }));
    let defaults: Vec<String> = arg.get_default_values().iter().map(|value| format!("`{}`", value.to_string_lossy())).collect();
    let default = match (defaults.is_empty(), Kind::of(arg)) {
        (false, _) => defaults.join(", "),
        (true, Kind::Switch) => "`false`".to_owned(),
        (true, _) => documented_default(arg).unwrap_or_else(|| "none".to_owned()),
    };
    format!("| {} | {key} | {env}{env_note} | {flag} | {default} |\n", help(arg).replace('|', "\\|"))
}

/// The items grouped by the section of their key, the keys outside any
/// section first, then the sections in the order they first appear.
fn by_section<T>(items: impl Iterator<Item = T>, arg: impl Fn(&T) -> &clap::Arg) -> Vec<(String, Vec<(String, T)>)> {
    let mut sections: Vec<(String, Vec<(String, T)>)> = vec![(String::new(), Vec::new())];
    for item in items {
        let key = arg(&item).get_id().to_string();
        let (section, name) = key.rsplit_once('.').map_or((String::new(), key.clone()), |(section, name)| (section.to_owned(), name.to_owned()));
        match sections.iter_mut().find(|(known, _)| *known == section) {
            Some((_, items)) => items.push((name, item)),
            None => sections.push((section, vec![(name, item)])),
        }
    }
    sections
}

/// The help without the default it documents.
fn help(arg: &clap::Arg) -> String {
    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
    match help.split_once(" [default: ") {
        Some((before, after)) => format!("{before}{}", after.split_once(']').map_or("", |(_, rest)| rest)),
        None => help,
    }
}

/// The default a help text documents, as `[default: …]`, for a setting
/// whose default clap cannot know (it depends on other settings).
fn documented_default(arg: &clap::Arg) -> Option<String> {
    let help = arg.get_help()?.to_string();
    let (_, after) = help.split_once("[default: ")?;
    Some(after.split_once(']')?.0.to_owned())
}

/// The values as TOML writes them.
fn toml_value(arg: &clap::Arg, values: &[String]) -> String {
    let one = |value: &String| match Kind::of(arg) {
        Kind::Switch | Kind::Number => value.clone(),
        Kind::Text => toml::Value::String(value.clone()).to_string(),
    };
    if is_list(arg) { format!("[{}]", values.iter().map(one).collect::<Vec<_>>().join(", ")) } else { values.first().map(one).unwrap_or_default() }
}
