//! Property tests of the code that reads untrusted input: editorial files,
//! Markdown, search queries and partner bundles. Each runs a bounded number
//! of generated cases, and first replays the inputs committed under
//! `tests/corpus/<target>/` (found problems are added there).

mod admin_form;
mod bundle;
mod file_format;
mod markdown;
mod search_query;

use std::path::{Path, PathBuf};

/// Every file of `tests/corpus/<target>/`, by name.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|item| item.unwrap().path())
        .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap()))
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "the corpus of {target} is empty");
    inputs
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn registry() -> katalog::content::Registry {
    katalog::content::Registry::load_dir(&repo_path("schemas")).unwrap()
}

/// A SQLite database with the sample content imported and published, made
/// by the real binary; `katalog` runs further commands against it.
pub struct SampleDatabase {
    pub url: String,
    pub folder: tempfile::TempDir,
}

impl SampleDatabase {
    /// A SQLite database with the sample content imported and published.
    pub fn imported() -> SampleDatabase {
        let folder = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", folder.path().join("katalog.db").display());
        let database = SampleDatabase { url, folder };
        database.katalog(&["import", repo_path("content").to_str().unwrap(), "--publish"]);
        database
    }

    pub fn katalog(&self, args: &[&str]) {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_katalog"))
            .args(args)
            .args(["--database", &self.url, "--schemas", repo_path("schemas").to_str().unwrap()])
            .output()
            .unwrap();
        assert!(output.status.success(), "katalog {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
}
