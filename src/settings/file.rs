//! The configuration file, `katalog.toml`, read as keys and values: what
//! each key means is the settings' declaration (see [`super`]).

use std::path::{Path, PathBuf};

use super::SettingsError;

/// Read from the working directory when no file is named.
pub const DEFAULT_FILE: &str = "katalog.toml";

/// A configuration file that was found and read.
#[derive(Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub table: toml::Table,
    text: String,
}

/// Reads the file named by `--config`/`KATALOG_CONFIG`, or `katalog.toml`
/// when it exists; a named file must exist, the default one need not.
pub fn load(named: Option<&Path>) -> Result<Option<Loaded>, SettingsError> {
    let path = match named {
        Some(path) => path.to_owned(),
        None if Path::new(DEFAULT_FILE).is_file() => PathBuf::from(DEFAULT_FILE),
        None => return Ok(None),
    };
    let text = std::fs::read_to_string(&path).map_err(|source| SettingsError::Read { path: path.display().to_string(), source })?;
    parse(text, path).map(Some)
}

/// Parses the file's text; errors name the file, line and column. What
/// the keys and values mean is checked against the declaration
/// (`settings::resolve`), where [`Loaded::locate`] finds them.
pub fn parse(text: String, path: PathBuf) -> Result<Loaded, SettingsError> {
    match toml::from_str(&text) {
        Ok(table) => Ok(Loaded { path, table, text }),
        Err(error) => {
            let (line, column) = line_and_column(&text, error.span().map_or(0, |span| span.start));
            Err(SettingsError::Invalid { path: path.display().to_string(), line, column, message: error.message().trim().to_owned() })
        }
    }
}

impl Loaded {
    /// Line and column of the value of `key` (dotted, as `serve.addr`), or
    /// of one `element` of a list; `None` when the file does not set it.
    fn position(&self, key: &str, element: Option<usize>) -> Option<(usize, usize)> {
        let root = toml::de::DeTable::parse(&self.text).ok()?;
        let mut table = root.get_ref();
        let mut parts = key.split('.').peekable();
        let mut value = None;
        while let Some(part) = parts.next() {
            let (_, found) = table.iter().find(|(name, _)| name.get_ref() == part)?;
            match (found.get_ref(), parts.peek()) {
                (toml::de::DeValue::Table(inner), Some(_)) => table = inner,
                (_, None) => value = Some(found),
                (_, Some(_)) => return None,
            }
        }
        let value = value?;
        let span = match (value.get_ref(), element) {
            (toml::de::DeValue::Array(items), Some(index)) => items.get(index)?.span(),
            _ => value.span(),
        };
        Some(line_and_column(&self.text, span.start))
    }

    /// `file:line:column` of the value of `key`, or the file alone when
    /// the key cannot be found in its text.
    pub fn locate(&self, key: &str, element: Option<usize>) -> String {
        match self.position(key, element) {
            Some((line, column)) => format!("{}:{line}:{column}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }
}

/// 1-based line and column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(text: &str) -> Loaded {
        parse(text.to_owned(), PathBuf::from("k.toml")).unwrap()
    }

    #[test]
    fn values_are_located_however_their_table_is_written() {
        assert_eq!(loaded("[serve]\naddr = \"x:1\"\n").locate("serve.addr", None), "k.toml:2:8");
        assert_eq!(loaded("serve.addr = \"x:1\"\n").locate("serve.addr", None), "k.toml:1:14");
        assert_eq!(loaded("serve = { cache_mb = 1, addr = \"x:1\" }\n").locate("serve.addr", None), "k.toml:1:32");
        assert_eq!(loaded("database = \"sqlite://k.db\"\n").locate("database", None), "k.toml:1:12");
    }

    #[test]
    fn list_elements_are_located_one_by_one() {
        let file = loaded("[serve]\ncors_origins = [\n  \"https://a.example\",\n  \"b.example\",\n]\n");
        assert_eq!(file.locate("serve.cors_origins", Some(1)), "k.toml:4:3");
        assert_eq!(file.position("serve.cors_origins", Some(2)), None);
    }

    #[test]
    fn what_the_file_leaves_out_is_not_located() {
        let file = loaded("[serve]\ncache_mb = 1\n");
        assert_eq!(file.position("serve.addr", None), None);
        assert_eq!(file.position("serve.cache_mb.deeper", None), None);
        assert_eq!(file.locate("database", None), "k.toml");
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let error = parse("[serve]\naddr = \n".to_owned(), PathBuf::from("k.toml")).unwrap_err().to_string();
        assert!(error.starts_with("k.toml:2:"), "{error}");
    }
}
