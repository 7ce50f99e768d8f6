//! Reading a partner bundle and verifying it before anything is applied:
//! format and version, the checksum of every file, no file missing or
//! unlisted, content types known here, and every entry valid against our
//! own schema.
//!
//! Only files whose checksum in the manifest differs from the one applied
//! last time are fetched and verified: a bundle of 10,000 entries with 100
//! changed reads 100 entry files, not 10,000. The manifest is always read
//! and checked in full, and so is every file that is read.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use super::{BundleProblem, FetchSettings, SyncError};
use crate::channels::partner::{DELETIONS, FORMAT, FORMAT_VERSION, MANIFEST, entry_path};
use crate::content::{Locale, Registry, document, slug};
use crate::digest::sha256_hex;
use crate::outbound;
use crate::store::{Link, links_of};

/// Where a partner's bundles are: a folder, or an http(s) URL of one.
#[derive(Clone, Debug)]
pub enum BundleSource {
    Folder(PathBuf),
    Http(String),
}

impl BundleSource {
    pub fn parse(source: &str) -> BundleSource {
        if source.starts_with("http://") || source.starts_with("https://") {
            BundleSource::Http(source.trim_end_matches('/').to_owned())
        } else {
            BundleSource::Folder(PathBuf::from(source))
        }
    }

    /// The source as messages name it: a URL without credentials.
    fn shown(&self) -> String {
        match self {
            BundleSource::Folder(folder) => folder.display().to_string(),
            BundleSource::Http(base) => reqwest::Url::parse(base).map_or_else(|_| base.clone(), |url| outbound::shown(&url)),
        }
    }

    /// A file of the bundle; `None` when it does not exist.
    async fn read(&self, reader: &Reader, path: &str) -> Result<Option<Vec<u8>>, SyncError> {
        match self {
            BundleSource::Folder(folder) => read_file(folder, path, reader.max_bytes),
            BundleSource::Http(base) => reader.fetch(format!("{base}/{path}")).await,
        }
    }

    /// Files of the bundle in the order asked, `None` where one does not
    /// exist: a folder's read on every core, a URL's fetched over several
    /// connections at once (one after the other, 10,000 round trips are
    /// most of an initial sync).
    async fn read_many(&self, reader: &Reader, paths: &[&str]) -> Result<Vec<Option<Vec<u8>>>, SyncError> {
        let base = match self {
            BundleSource::Folder(folder) => return paths.par_iter().map(|path| read_file(folder, path, reader.max_bytes)).collect(),
            BundleSource::Http(base) => base,
        };
        let mut files = vec![None; paths.len()];
        let mut fetching = tokio::task::JoinSet::new();
        let mut settle = |done: Option<Result<Fetched, tokio::task::JoinError>>| -> Result<(), SyncError> {
            if let Some(done) = done {
                let (at, file) = done.map_err(|error| SyncError::Fetch { url: self.shown(), message: error.to_string() })?;
                files[at] = file?;
            }
            Ok(())
        };
        for (at, path) in paths.iter().enumerate() {
            if fetching.len() >= PARALLEL_FETCHES {
                settle(fetching.join_next().await)?;
            }
            let (reader, url) = (reader.clone(), format!("{base}/{path}"));
            fetching.spawn(async move { (at, reader.fetch(url).await) });
        }
        while !fetching.is_empty() {
            settle(fetching.join_next().await)?;
        }
        Ok(files)
    }

    /// Every file below a folder source, as bundle paths; `None` for a URL,
    /// which cannot be listed.
    fn list(&self) -> Result<Option<BTreeSet<String>>, SyncError> {
        let BundleSource::Folder(folder) = self else { return Ok(None) };
        let mut found = BTreeSet::new();
        let mut pending = vec![PathBuf::new()];
        while let Some(dir) = pending.pop() {
            let read_error = |source| SyncError::Read { path: folder.join(&dir), source };
            for item in std::fs::read_dir(folder.join(&dir)).map_err(read_error)? {
                let item = item.map_err(read_error)?;
                let path = dir.join(item.file_name());
                if item.file_type().map_err(read_error)?.is_dir() {
                    pending.push(path);
                } else {
                    found.insert(path.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        Ok(Some(found))
    }
}

/// Requests in flight at once when fetching a bundle over HTTP.
const PARALLEL_FETCHES: usize = 16;

/// Redirects followed for one file (a bundle moved to another address).
const MAX_REDIRECTS: usize = 5;

/// A file fetched: its place among those asked for, and what came.
type Fetched = (usize, Result<Option<Vec<u8>>, SyncError>);

/// Reads a file, but never more than one byte over `max_bytes`.
fn read_file(folder: &Path, path: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, SyncError> {
    use std::io::Read;
    let read_error = |source| SyncError::Read { path: folder.join(path), source };
    let file = match std::fs::File::open(folder.join(path)) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(read_error(source)),
    };
    let mut bytes = Vec::new();
    file.take(max_bytes + 1).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() as u64 > max_bytes {
        return Err(SyncError::TooLarge { file: path.to_owned(), limit: max_bytes });
    }
    Ok(Some(bytes))
}

/// Fetches the files of a bundle over HTTP through the fence, none larger
/// than `max_bytes`.
#[derive(Clone)]
struct Reader {
    client: outbound::Client,
    max_bytes: u64,
}

impl Reader {
    /// The file at `url`; `None` when the server has none. Errors name the
    /// URL and a short cause, never what the server answered.
    async fn fetch(&self, url: String) -> Result<Option<Vec<u8>>, SyncError> {
        let Ok(url) = reqwest::Url::parse(&url) else {
            return Err(SyncError::Fetch { url, message: outbound::Refused::NotHttp.to_string() });
        };
        let fetch_error = |message: String| SyncError::Fetch { url: outbound::shown(&url), message };
        let request = self.client.request(reqwest::Method::GET, &url).map_err(|refused| fetch_error(refused.to_string()))?;
        let mut response = request.send().await.map_err(|error| fetch_error(outbound::cause(&error)))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(fetch_error(format!("answered HTTP {}", response.status().as_u16())));
        }
        // Streamed, so that a file over the limit is never held whole.
        let too_large = || SyncError::TooLarge { file: outbound::shown(&url), limit: self.max_bytes };
        if response.content_length().is_some_and(|length| length > self.max_bytes) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| fetch_error(outbound::cause(&error)))? {
            if (bytes.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some(bytes))
    }
}

#[derive(Deserialize)]
struct Manifest {
    source: Origin,
    content_version: i64,
    schemas: BTreeMap<String, String>,
    entries: Vec<IndexedEntry>,
    files: Vec<FileSum>,
}

#[derive(Deserialize)]
struct Origin {
    municipality: String,
}

/// An entry as the manifest's index lists it.
#[derive(Debug, Deserialize)]
pub struct IndexedEntry {
    pub id: String,
    #[serde(rename = "type")]
    pub content_type: String,
    pub slug: String,
    version: i64,
    path: String,
}

#[derive(Deserialize)]
struct FileSum {
    path: String,
    sha256: String,
}

#[derive(Deserialize)]
struct EntryFile {
    id: String,
    #[serde(rename = "type")]
    content_type: String,
    slug: String,
    version: i64,
    locales: BTreeMap<String, LocaleFile>,
}

#[derive(Deserialize)]
struct LocaleFile {
    revision: i32,
    translated_from: Option<i32>,
    fields: Value,
    #[serde(default)]
    provenance: Value,
}

#[derive(Deserialize)]
struct DeletionsFile {
    deletions: Vec<Deletion>,
}

/// An entry withdrawn upstream.
#[derive(Clone, Debug, Deserialize)]
pub struct Deletion {
    pub id: String,
    /// `unpublish`, `archive` or `delete`.
    pub action: String,
    /// The change-log position upstream at which it was withdrawn.
    pub version: i64,
}

/// The SHA-256 of every file of the bundle applied last, by path.
pub type AppliedFiles = HashMap<String, String>;

/// A bundle whose every file read checked out.
#[derive(Debug)]
pub struct VerifiedBundle {
    pub municipality: String,
    pub content_version: i64,
    /// Every entry the manifest lists.
    pub index: Vec<IndexedEntry>,
    /// The entries whose file changed since the bundle applied last (all
    /// of them the first time).
    pub entries: Vec<BundleEntry>,
    /// Every withdrawal listed, when the deletions file changed; none
    /// otherwise (all it lists was applied before).
    pub deletions: Vec<Deletion>,
    /// Files (path, SHA-256) new or changed since the bundle applied
    /// last, and paths no longer listed.
    pub changed_files: Vec<(String, String)>,
    pub dropped_files: Vec<String>,
}

#[derive(Debug)]
pub struct BundleEntry {
    /// The entry's file in the bundle, for messages.
    pub file: String,
    pub id: String,
    pub content_type: String,
    pub slug: String,
    pub version: i64,
    /// German first.
    pub locales: Vec<BundleLocale>,
    pub leika: Option<String>,
    /// References of the German document, and the link index rows they make.
    pub references: Vec<document::Reference>,
    pub links: Vec<Link>,
}

#[derive(Debug)]
pub struct BundleLocale {
    pub locale: Locale,
    pub revision: i32,
    pub translated_from: Option<i32>,
    pub document: Value,
    /// The document as stored in a revision, and its hash.
    pub text: String,
    pub hash: String,
    /// The bundle's provenance of each module, as JSON.
    pub provenance: String,
}

/// Reads the bundle and checks every file against the manifest and every
/// entry against our schemas, skipping files whose checksum is the one in
/// `applied` — except the files of entries not `held` here (any more), so
/// that a sync brings what a sync of the whole bundle would. Any problem
/// rejects the whole bundle. Reading it all takes no longer than the
/// settings' deadline: a partner trickling bytes fails the sync instead of
/// holding it (and the request that runs it).
pub async fn load(
    source: &BundleSource,
    registry: &Registry,
    applied: &AppliedFiles,
    held: &HashSet<String>,
    settings: &FetchSettings,
) -> Result<VerifiedBundle, SyncError> {
    let client = settings
        .fence
        .client(MAX_REDIRECTS, |builder| builder.connect_timeout(std::time::Duration::from_secs(10)).read_timeout(std::time::Duration::from_secs(60)))
        .map_err(|error| SyncError::Fetch { url: source.shown(), message: format!("no HTTP client: {error}") })?;
    let reader = Reader { client, max_bytes: settings.max_file_bytes };
    tokio::time::timeout(settings.deadline, verify(source, registry, applied, held, &reader))
        .await
        .map_err(|_| SyncError::Deadline { from: source.shown(), deadline: settings.deadline })?
}

async fn verify(
    source: &BundleSource,
    registry: &Registry,
    applied: &AppliedFiles,
    held: &HashSet<String>,
    reader: &Reader,
) -> Result<VerifiedBundle, SyncError> {
    let reject = |file: &str, message: String| SyncError::Rejected(vec![BundleProblem { file: file.to_owned(), message }]);
    let Some(bytes) = source.read(reader, MANIFEST).await? else {
        return Err(reject(MANIFEST, "missing: this is not a partner bundle".into()));
    };
    let manifest: Value = serde_json::from_slice(&bytes).map_err(|e| reject(MANIFEST, format!("not JSON: {e}")))?;
    // The format first: a bundle of another format or a newer version may
    // mean something else by every other field. Until it is known to be a
    // bundle, nothing it holds is repeated in a message: the answer of
    // some other server is no one's business.
    if manifest.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(reject(MANIFEST, format!("the format is not `{FORMAT}`: this is not a partner bundle")));
    }
    let Some(version) = manifest.get("format_version").and_then(Value::as_u64) else {
        return Err(reject(MANIFEST, "format_version is missing".into()));
    };
    if version > u64::from(FORMAT_VERSION) {
        return Err(SyncError::NewerFormat { found: version, supported: FORMAT_VERSION });
    }
    let manifest: Manifest = serde_json::from_value(manifest).map_err(|e| reject(MANIFEST, format!("not a bundle manifest: {e}")))?;

    let mut problems: Vec<BundleProblem> = manifest.entries.iter().flat_map(|indexed| name_problems(indexed, registry)).collect();
    let present = source.list()?;
    if let Some(present) = &present {
        let listed: HashSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
        for path in present.iter().filter(|p| p.as_str() != MANIFEST && !listed.contains(p.as_str())) {
            problems.push(BundleProblem { file: path.clone(), message: "not listed in the manifest".into() });
        }
    }
    let missing = |path: &str| BundleProblem { file: path.to_owned(), message: "listed in the manifest but missing".into() };
    let not_held: HashSet<&str> = manifest.entries.iter().filter(|e| !held.contains(&e.id)).map(|e| e.path.as_str()).collect();
    let mut unchanged: HashSet<&str> = HashSet::new();
    let mut to_read: Vec<&FileSum> = Vec::new();
    for listed in &manifest.files {
        if !is_plain_relative(&listed.path) {
            problems.push(BundleProblem { file: listed.path.escape_debug().to_string(), message: "listed path leaves the bundle".into() });
        } else if applied.get(&listed.path) == Some(&listed.sha256) && !not_held.contains(listed.path.as_str()) {
            // Applied before as it is; a folder still shows whether it is there.
            if present.as_ref().is_some_and(|present| !present.contains(&listed.path)) {
                problems.push(missing(&listed.path));
            }
            unchanged.insert(&listed.path);
        } else {
            to_read.push(listed);
        }
    }
    let paths: Vec<&str> = to_read.iter().map(|listed| listed.path.as_str()).collect();
    let read = source.read_many(reader, &paths).await?;
    let checked: Vec<Result<Vec<u8>, BundleProblem>> = to_read
        .par_iter()
        .zip(read)
        .map(|(listed, bytes)| {
            let bytes = bytes.ok_or_else(|| missing(&listed.path))?;
            let found = sha256_hex(&bytes);
            if found != listed.sha256 {
                return Err(BundleProblem { file: listed.path.clone(), message: format!("checksum {found} does not match the manifest's {}", listed.sha256) });
            }
            Ok(bytes)
        })
        .collect();
    let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut changed_files = Vec::new();
    for (listed, checked) in to_read.iter().zip(checked) {
        match checked {
            Ok(bytes) => {
                contents.insert(listed.path.clone(), bytes);
                changed_files.push((listed.path.clone(), listed.sha256.clone()));
            }
            Err(problem) => problems.push(problem),
        }
    }
    let listed: HashSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    let dropped_files = applied.keys().filter(|path| !listed.contains(path.as_str())).cloned().collect();
    for (content_type, path) in &manifest.schemas {
        if registry.get(content_type).is_none() {
            problems.push(BundleProblem { file: path.clone(), message: format!("content type `{content_type}` does not exist here; add its schema first") });
        }
    }
    let deletions = match contents.get(DELETIONS) {
        Some(bytes) => match serde_json::from_slice::<DeletionsFile>(bytes) {
            Ok(file) => file.deletions,
            Err(e) => {
                problems.push(BundleProblem { file: DELETIONS.into(), message: format!("not a list of deletions: {e}") });
                Vec::new()
            }
        },
        None if unchanged.contains(DELETIONS) => Vec::new(),
        None => {
            if !problems.iter().any(|p| p.file == DELETIONS) {
                problems.push(BundleProblem { file: DELETIONS.into(), message: "not listed in the manifest".into() });
            }
            Vec::new()
        }
    };
    // Checksum problems are already reported for the file; only entries
    // whose file checked out are read.
    let results: Vec<Result<BundleEntry, Vec<BundleProblem>>> = manifest
        .entries
        .par_iter()
        .filter_map(|indexed| match contents.get(&indexed.path) {
            Some(bytes) => Some(check_entry(indexed, bytes, registry)),
            // Unchanged, or its problem is already reported.
            None if listed.contains(indexed.path.as_str()) => None,
            None => Some(Err(vec![BundleProblem { file: indexed.path.clone(), message: "indexed as an entry but not listed among the files".into() }])),
        })
        .collect();
    let mut entries = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(entry) => entries.push(entry),
            Err(found) => problems.extend(found),
        }
    }
    if !problems.is_empty() {
        problems.sort_by(|a, b| a.file.cmp(&b.file).then(a.message.cmp(&b.message)));
        problems.dedup();
        return Err(SyncError::Rejected(problems));
    }
    Ok(VerifiedBundle {
        municipality: manifest.source.municipality,
        content_version: manifest.content_version,
        index: manifest.entries,
        entries,
        deletions,
        changed_files,
        dropped_files,
    })
}

/// An indexed entry named as the editorial import and the export name
/// one: an id that is a UUID, a content type we have, a valid slug, and
/// its file where the export puts it. Every later step (paths of our own
/// exports, URLs, the delivery API) relies on these rules.
fn name_problems(indexed: &IndexedEntry, registry: &Registry) -> Vec<BundleProblem> {
    let problem = |message: String| BundleProblem { file: indexed.path.escape_debug().to_string(), message };
    let mut problems = Vec::new();
    if uuid::Uuid::try_parse(&indexed.id).map(|id| id.to_string()).ok().as_deref() != Some(indexed.id.as_str()) {
        problems.push(problem(format!("id `{}` is not a UUID (lower-case, with hyphens)", indexed.id.escape_debug())));
    }
    if registry.get(&indexed.content_type).is_none() {
        problems.push(problem(format!("content type `{}` does not exist here", indexed.content_type.escape_debug())));
    }
    match slug::check(&indexed.slug) {
        Err(message) => problems.push(problem(message)),
        Ok(()) if indexed.path != entry_path(&indexed.content_type, &indexed.slug) => {
            problems.push(problem(format!(
                "the file of the {} `{}` is {}, not this",
                indexed.content_type.escape_debug(),
                indexed.slug,
                entry_path(&indexed.content_type, &indexed.slug).escape_debug()
            )));
        }
        Ok(()) => {}
    }
    problems
}

fn check_entry(indexed: &IndexedEntry, bytes: &[u8], registry: &Registry) -> Result<BundleEntry, Vec<BundleProblem>> {
    let problem = |message: String| BundleProblem { file: indexed.path.clone(), message };
    let file: EntryFile = serde_json::from_slice(bytes).map_err(|e| vec![problem(format!("not an entry file: {e}"))])?;
    if (&file.id, &file.content_type, &file.slug, file.version) != (&indexed.id, &indexed.content_type, &indexed.slug, indexed.version) {
        return Err(vec![problem("id, type, slug or version differ from the manifest's index".into())]);
    }
    let Some(content_type) = registry.get(&file.content_type) else {
        return Err(vec![problem(format!("content type `{}` does not exist here", file.content_type))]);
    };
    let mut problems = Vec::new();
    let Some(source) = file.locales.get(Locale::SOURCE.code()) else {
        return Err(vec![problem("has no German (`de`) document".into())]);
    };
    for violation in content_type.validate(&source.fields) {
        problems.push(problem(format!("de: {}: {}", violation.pointer, violation.message)));
    }
    let references = document::references(content_type, &source.fields);
    for reference in &references {
        if let Err(message) = slug::check(&reference.target_slug) {
            problems.push(problem(format!("de: {}: a reference to an {}: {message}", reference.pointer, reference.target_type)));
        }
    }
    let mut locales = Vec::new();
    for (code, published) in &file.locales {
        let Some(locale) = Locale::parse(code) else {
            problems.push(problem(format!("unknown locale `{code}`")));
            continue;
        };
        if !locale.is_source() {
            match document::overlay_translation(content_type, &source.fields, &published.fields) {
                Ok(merged) => problems.extend(content_type.validate(&merged).into_iter().map(|v| problem(format!("{code}: {}: {}", v.pointer, v.message)))),
                Err(violations) => problems.extend(violations.into_iter().map(|v| problem(format!("{code}: {}: {}", v.pointer, v.message)))),
            }
        }
        let text = serde_json::to_string(&published.fields).unwrap_or_default();
        locales.push(BundleLocale {
            locale,
            revision: published.revision,
            translated_from: published.translated_from,
            hash: sha256_hex(&text),
            text,
            document: published.fields.clone(),
            provenance: published.provenance.to_string(),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    locales.sort_by_key(|l| !l.locale.is_source());
    let leika = content_type.leika(&source.fields).map(str::to_owned);
    Ok(BundleEntry {
        file: indexed.path.clone(),
        references,
        links: links_of(content_type, &source.fields),
        id: file.id,
        content_type: file.content_type,
        slug: file.slug,
        version: file.version,
        locales,
        leika,
    })
}

/// A listed path as plain names below the bundle: no `..`, no root, no
/// backslash or NUL.
fn is_plain_relative(path: &str) -> bool {
    !path.is_empty() && !path.contains(['\0', '\\']) && Path::new(path).components().all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn listed_paths_stay_inside_the_bundle() {
        for bad in ["../x", "/etc/passwd", "a/../../b", "a\\b", "", "./a"] {
            assert!(!super::is_plain_relative(bad), "{bad:?}");
        }
        assert!(super::is_plain_relative("entries/service/a.json"));
    }
}
