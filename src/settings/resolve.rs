//! Flags, environment and configuration file, in that order of
//! precedence before the default, resolved into the command's arguments.
//!
//! clap reads the command line and the environment; the file is read as
//! keys, each key the id of a setting. Every value a setting is given, from
//! wherever, is first parsed alone by the setting's own value parser, so
//! that all unusable values are reported together, each named by its flag,
//! environment variable or file position. The file's values then become
//! the defaults of a second, real parse: clap builds the arguments from
//! them exactly as from a flag.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};

use super::file::{self, Loaded};
use super::{FILE_ARG, SettingsError, is_setting};

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Flag(String),
    Environment(String),
    /// `file:line:column`.
    File(String),
    Default,
}

/// One setting of the command that runs, as it was resolved.
#[derive(Debug)]
pub struct Setting {
    pub arg: clap::Arg,
    /// As given (a list has several; an unset optional setting none).
    pub values: Vec<String>,
    pub source: Source,
}

/// The parsed command line with its settings resolved.
#[derive(Debug)]
pub struct Resolved<C> {
    pub command: C,
    pub file: Option<Loaded>,
    /// Every setting of the command that runs, in the order declared.
    pub settings: Vec<Setting>,
}

/// What a setting takes, as the file must write it.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Switch,
    Number,
    Text,
}

impl Kind {
    pub(super) fn of(arg: &clap::Arg) -> Kind {
        let parser = arg.get_value_parser().type_id();
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            Kind::Switch
        } else if [std::any::TypeId::of::<u64>(), std::any::TypeId::of::<u32>()].into_iter().any(|number| parser == number) {
            Kind::Number
        } else {
            Kind::Text
        }
    }

    /// What the file must write, one value or (`many`) a list.
    fn expected(self, many: bool) -> &'static str {
        match (self, many) {
            (Kind::Switch, _) => "true or false",
            (Kind::Number, false) => "a whole number",
            (Kind::Number, true) => "a list of whole numbers",
            (Kind::Text, false) => "a string",
            (Kind::Text, true) => "a list of strings",
        }
    }

    /// The value as the flag would be given it.
    fn text_of(self, value: &toml::Value) -> Option<String> {
        match (self, value) {
            (Kind::Switch, toml::Value::Boolean(on)) => Some(on.to_string()),
            (Kind::Number, toml::Value::Integer(number)) => Some(number.to_string()),
            (Kind::Text, toml::Value::String(text)) => Some(text.clone()),
            _ => None,
        }
    }
}

/// Whether a setting is a list (the flag repeats).
pub(super) fn is_list(arg: &clap::Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
}

/// Parses the command line `args` (the program's name first) and resolves
/// the settings of the command it names.
pub fn parse<C: CommandFactory + FromArgMatches>(args: impl IntoIterator<Item = OsString>) -> Result<Resolved<C>, SettingsError> {
    let args: Vec<OsString> = args.into_iter().collect();
    let raw = as_given(C::command()).try_get_matches_from(&args)?;
    let file = file::load(raw.get_one::<PathBuf>(FILE_ARG).map(PathBuf::as_path))?;
    let declared = C::command();
    let path = subcommand_path(&raw);
    let leaf = path.iter().try_fold(&declared, |command, name| command.find_subcommand(name)).unwrap_or(&declared);
    let given = innermost(&raw);

    let mut refused = Vec::new();
    let from_file = match &file {
        Some(file) => read_file(file, &declarations(&declared), &mut refused),
        None => Vec::new(),
    };
    let mut sources = Vec::new();
    let mut file_defaults = Vec::new();
    for arg in leaf.get_arguments().filter(|arg| is_setting(arg)) {
        let id = arg.get_id().as_str();
        let as_given = || given.get_raw(id).into_iter().flatten().map(|value| value.to_string_lossy().into_owned()).collect::<Vec<_>>();
        let source = match given.value_source(id) {
            Some(ValueSource::CommandLine) => Source::Flag(format!("--{}", arg.get_long().unwrap_or(id))),
            Some(ValueSource::EnvVariable) => Source::Environment(arg.get_env().map_or_else(String::new, |name| name.to_string_lossy().into_owned())),
            _ => match (from_file.iter().find(|(key, _)| key == id), &file) {
                (Some((_, values)), Some(file)) => {
                    file_defaults.push((id.to_owned(), values.clone()));
                    Source::File(file.locate(id, None))
                }
                _ => Source::Default,
            },
        };
        // The file's values were checked as it was read; a switch's value is `true` or `false`, or clap refused it.
        if let Source::Flag(name) | Source::Environment(name) = &source
            && Kind::of(arg) != Kind::Switch
        {
            for text in as_given() {
                if let Err(reason) = parse_alone(arg, &text) {
                    refused.push(format!("{name}: {reason}"));
                }
            }
        }
        sources.push(source);
    }
    if !refused.is_empty() {
        return Err(SettingsError::Refused(refused));
    }

    let matches = with_defaults(C::command(), &path, &file_defaults).try_get_matches_from(&args)?;
    let command = C::from_arg_matches(&matches)?;
    let resolved = innermost(&matches);
    let settings = leaf
        .get_arguments()
        .filter(|arg| is_setting(arg))
        .zip(sources)
        .map(|(arg, source)| Setting {
            arg: arg.clone(),
            values: resolved.get_raw(arg.get_id().as_str()).into_iter().flatten().map(|value| value.to_string_lossy().into_owned()).collect(),
            source,
        })
        .collect();
    Ok(Resolved { command, file, settings })
}

/// The command with every setting taking its values as given, unparsed,
/// so that unusable ones can be reported together and by their source.
fn as_given(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| if is_setting(&arg) && Kind::of(&arg) != Kind::Switch { arg.value_parser(clap::builder::ValueParser::os_string()) } else { arg })
        .mut_subcommands(as_given)
}

/// The command with the file's values as the defaults of the settings of
/// the subcommand at `path`.
fn with_defaults(command: clap::Command, path: &[String], values: &[(String, Vec<String>)]) -> clap::Command {
    match path.split_first() {
        Some((name, rest)) => command.mut_subcommand(name, |sub| with_defaults(sub, rest, values)),
        None => values.iter().fold(command, |command, (id, values)| command.mut_arg(id, |arg| arg.default_values(values.clone()))),
    }
}

/// Parses one value as its flag would be parsed, alone.
fn parse_alone(arg: &clap::Arg, value: &str) -> Result<(), String> {
    let long = arg.get_long().unwrap_or(arg.get_id().as_str());
    let alone = clap::Command::new("katalog").no_binary_name(true).arg(arg.clone().env(None).default_values(None::<&str>).required(false));
    match alone.try_get_matches_from([format!("--{long}={value}")]) {
        Ok(_) => Ok(()),
        Err(error) => Err(std::error::Error::source(&error).map_or_else(|| error.kind().to_string(), ToString::to_string)),
    }
}

/// The value of a setting in the file, as its flag would be given it.
fn file_values(arg: &clap::Arg, value: &toml::Value) -> Result<Vec<String>, String> {
    let kind = Kind::of(arg);
    let wrong = || format!("invalid type: expected {}, found {}", kind.expected(is_list(arg)), value.type_str());
    match value {
        toml::Value::Array(items) if is_list(arg) => items.iter().map(|item| kind.text_of(item).ok_or_else(wrong)).collect(),
        _ if is_list(arg) => Err(wrong()),
        _ => kind.text_of(value).map(|text| vec![text]).ok_or_else(wrong),
    }
}

/// The file's key and values (as its flag would be given them) of every
/// setting it sets. Unknown keys and unusable values are refused with
/// their position, whether or not the command that runs takes them.
fn read_file(file: &Loaded, declared: &[&clap::Arg], refused: &mut Vec<String>) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    walk(file, &file.table, "", declared, &mut found, refused);
    found
}

fn walk(file: &Loaded, table: &toml::Table, prefix: &str, declared: &[&clap::Arg], found: &mut Vec<(String, Vec<String>)>, refused: &mut Vec<String>) {
    for (name, value) in table {
        let key = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        let section = format!("{key}.");
        match (declared.iter().find(|arg| arg.get_id() == key.as_str()), value) {
            (Some(arg), _) => match file_values(arg, value) {
                Ok(values) => {
                    for (index, text) in values.iter().enumerate().filter(|_| Kind::of(arg) != Kind::Switch) {
                        if let Err(reason) = parse_alone(arg, text) {
                            refused.push(format!("{}: {key}: {reason}", file.locate(&key, is_list(arg).then_some(index))));
                        }
                    }
                    found.push((key, values));
                }
                Err(reason) => refused.push(format!("{}: {key}: {reason}", file.locate(&key, None))),
            },
            (None, toml::Value::Table(inner)) if declared.iter().any(|arg| arg.get_id().as_str().starts_with(&section)) => {
                walk(file, inner, &key, declared, found, refused)
            }
            (None, _) => {
                let within = if prefix.is_empty() { String::new() } else { format!(" in [{prefix}]") };
                let expected: BTreeSet<&str> = declared
                    .iter()
                    .map(|arg| arg.get_id().as_str())
                    .filter_map(|known| if prefix.is_empty() { Some(known) } else { known.strip_prefix(prefix)?.strip_prefix('.') })
                    .map(|rest| rest.split('.').next().unwrap_or(rest))
                    .collect();
                let expected: Vec<String> = expected.iter().map(|name| format!("`{name}`")).collect();
                refused.push(format!("{}: unknown field `{name}`{within}, expected one of {}", file.locate(&key, None), expected.join(", ")));
            }
        }
    }
}

/// Every setting of every command, each once (a setting is declared alike
/// wherever it is taken): the file is shared by all commands.
pub(super) fn declarations(command: &clap::Command) -> Vec<&clap::Arg> {
    let mut declared: Vec<&clap::Arg> = command.get_arguments().filter(|arg| is_setting(arg)).collect();
    for sub in command.get_subcommands() {
        for arg in declarations(sub) {
            if !declared.iter().any(|known| known.get_id() == arg.get_id()) {
                declared.push(arg);
            }
        }
    }
    declared
}

/// The names of the subcommands that run, outermost first.
fn subcommand_path(matches: &ArgMatches) -> Vec<String> {
    let mut path = Vec::new();
    let mut matches = matches;
    while let Some((name, sub)) = matches.subcommand() {
        path.push(name.to_owned());
        matches = sub;
    }
    path
}

/// The matches of the subcommand that runs (flattened arguments live there).
fn innermost(matches: &ArgMatches) -> &ArgMatches {
    match matches.subcommand() {
        Some((_, sub)) => innermost(sub),
        None => matches,
    }
}
