//! Writing a channel's files: only what changed, never half.
//!
//! The first export, into no folder, writes everything into a staging
//! folder beside it and moves it in with one rename. Later exports write
//! each new or changed file beside the file it replaces, under a hidden
//! name (`.index.html.katalog-new`), and leave unchanged ones untouched.
//! Committing writes a journal naming every file to move in and every
//! file to delete, then carries it out and removes it. An export
//! interrupted before the journal exists leaves the previous export as it
//! was (its hidden files are deleted by the next export); one interrupted
//! after is finished by the next export before it does anything else.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ChannelError;

/// SHA-256 (hex) of every file of a channel's folder, by relative path.
pub type FileHashes = BTreeMap<String, String>;

/// Ends the name of a file written beside the one it will replace.
const PENDING_SUFFIX: &str = ".katalog-new";

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteSummary {
    pub written: usize,
    pub deleted: usize,
    pub unchanged: usize,
}

#[derive(Serialize, Deserialize, Default)]
struct Journal {
    move_in: Vec<String>,
    delete: Vec<String>,
}

pub struct Writer {
    folder: PathBuf,
    /// Where the files of a first export are gathered; none when the
    /// folder exists and files are written beside the ones they replace.
    staging: Option<PathBuf>,
    journal: PathBuf,
    /// Present while files are pending beside the folder's own: an export
    /// that finds it was interrupted and deletes them.
    pending_marker: PathBuf,
    /// What a file is compared with to tell whether it changed.
    baseline: Baseline,
    /// Every file is put: the ones not put are deleted.
    complete: bool,
    /// Hashes of the files the folder will hold after the commit.
    hashes: FileHashes,
    move_in: Vec<String>,
    delete: BTreeSet<String>,
    summary: WriteSummary,
}

enum Baseline {
    /// Each file on disk is read and compared.
    Disk,
    /// The hashes the previous export recorded (every file is put anew).
    Previous(FileHashes),
    /// The previous export's hashes, kept in `hashes` until replaced.
    Current,
}

/// A file made and, when it differs from the previous export's, written.
pub struct Staged {
    pub path: String,
    pub hash: String,
    pub written: bool,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ChannelError + use<> {
    let path = path.display().to_string();
    move |source| ChannelError::Io { path, source }
}

/// Where a file waits, beside the one it replaces, until the commit.
fn pending(target: &Path) -> PathBuf {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    target.with_file_name(format!(".{name}{PENDING_SUFFIX}"))
}

fn is_pending(path: &Path) -> bool {
    path.file_name().is_some_and(|name| name.to_string_lossy().ends_with(PENDING_SUFFIX))
}

impl Writer {
    /// Prepares writing into `folder`, first finishing an export that was
    /// interrupted after its journal was written, or clearing away the
    /// files of one interrupted before. `complete`: every file of the
    /// folder will be put, and the ones that are not get deleted;
    /// otherwise only files put or removed change.
    pub fn open(folder: &Path, previous: Option<FileHashes>, complete: bool) -> Result<Writer, ChannelError> {
        let parent = folder.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = folder.file_name().ok_or_else(|| ChannelError::UnsafePath(folder.display().to_string()))?.to_string_lossy().into_owned();
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        let mut writer = Writer {
            folder: folder.to_owned(),
            staging: None,
            journal: parent.join(format!(".{name}.journal")),
            pending_marker: parent.join(format!(".{name}.pending")),
            baseline: Baseline::Disk,
            hashes: FileHashes::new(),
            complete,
            move_in: Vec::new(),
            delete: BTreeSet::new(),
            summary: WriteSummary::default(),
        };
        writer.recover()?;
        let staging = parent.join(format!(".{name}.new"));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io_error(&staging))?;
        }
        if folder.is_dir() {
            std::fs::write(&writer.pending_marker, b"").map_err(io_error(&writer.pending_marker))?;
            (writer.baseline, writer.hashes) = match (previous, complete) {
                (None, _) => (Baseline::Disk, FileHashes::new()),
                (Some(previous), true) => (Baseline::Previous(previous), FileHashes::new()),
                (Some(previous), false) => (Baseline::Current, previous),
            };
        } else {
            // Into no folder, everything is new.
            writer.baseline = Baseline::Previous(FileHashes::new());
            writer.staging = Some(staging);
        }
        Ok(writer)
    }

    /// Finishes the moves and deletions of an interrupted commit, or
    /// deletes the files an export interrupted before its commit left.
    fn recover(&self) -> Result<(), ChannelError> {
        match std::fs::read(&self.journal) {
            Ok(text) => {
                // A journal cut short was never complete, so nothing was moved yet.
                if let Ok(journal) = serde_json::from_slice::<Journal>(&text) {
                    self.carry_out(&journal)?;
                }
                std::fs::remove_file(&self.journal).map_err(io_error(&self.journal))?;
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ChannelError::Io { path: self.journal.display().to_string(), source }),
        }
        if self.pending_marker.exists() {
            if self.folder.is_dir() {
                let files = files_below(&self.folder).map_err(io_error(&self.folder))?;
                for file in files.iter().filter(|f| is_pending(f)) {
                    let path = self.folder.join(file);
                    std::fs::remove_file(&path).map_err(io_error(&path))?;
                }
            }
            std::fs::remove_file(&self.pending_marker).map_err(io_error(&self.pending_marker))?;
        }
        Ok(())
    }

    /// Hashes a file and, when it differs from the previous export's,
    /// writes it where it waits for the commit. Safe to call from many threads.
    pub fn stage(&self, path: String, bytes: &[u8]) -> Result<Staged, ChannelError> {
        let target = relative(&path)?;
        let hash = crate::digest::sha256_hex(bytes);
        let unchanged = match &self.baseline {
            Baseline::Previous(previous) => previous.get(&path).is_some_and(|known| *known == hash),
            Baseline::Current => self.hashes.get(&path).is_some_and(|known| *known == hash),
            Baseline::Disk => std::fs::read(self.folder.join(&target)).is_ok_and(|old| old == bytes),
        };
        if !unchanged {
            let destination = match &self.staging {
                Some(staging) => staging.join(&target),
                None => pending(&self.folder.join(&target)),
            };
            if let Some(dir) = destination.parent() {
                std::fs::create_dir_all(dir).map_err(io_error(dir))?;
            }
            std::fs::write(&destination, bytes).map_err(io_error(&destination))?;
        }
        Ok(Staged { path, hash, written: !unchanged })
    }
    /// Takes a staged file into the export.
    pub fn record(&mut self, staged: Staged) {
        if staged.written {
            self.move_in.push(staged.path.clone());
            self.summary.written += 1;
        } else {
            self.summary.unchanged += 1;
        }
        self.delete.remove(&staged.path);
        self.hashes.insert(staged.path, staged.hash);
    }

    /// Puts a file in the export.
    pub fn put(&mut self, path: &str, bytes: &[u8]) -> Result<(), ChannelError> {
        let staged = self.stage(path.to_owned(), bytes)?;
        self.record(staged);
        Ok(())
    }

    /// Takes a file of the previous export out.
    pub fn remove(&mut self, path: &str) {
        if self.hashes.remove(path).is_some() || matches!(self.baseline, Baseline::Disk) {
            self.delete.insert(path.to_owned());
        }
    }

    /// The hashes of the files the folder holds once committed.
    pub fn hashes(&self) -> &FileHashes {
        &self.hashes
    }

    /// Makes the folder hold the files put; returns what was done and the
    /// hash of every file.
    pub fn commit(mut self) -> Result<(WriteSummary, FileHashes), ChannelError> {
        if self.complete {
            let before: Vec<String> = match &self.baseline {
                Baseline::Previous(previous) => previous.keys().cloned().collect(),
                Baseline::Current => Vec::new(),
                Baseline::Disk => files_below(&self.folder)
                    .map_err(io_error(&self.folder))?
                    .iter()
                    .filter(|p| !is_pending(p))
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect(),
            };
            self.delete.extend(before.into_iter().filter(|path| !self.hashes.contains_key(path)));
        }
        let mut summary = self.summary;
        summary.deleted = self.delete.len();
        if let Some(staging) = &self.staging {
            std::fs::create_dir_all(staging).map_err(io_error(staging))?;
            std::fs::rename(staging, &self.folder).map_err(io_error(staging))?;
            return Ok((summary, self.hashes));
        }
        if !self.move_in.is_empty() || !self.delete.is_empty() {
            let journal = Journal { move_in: std::mem::take(&mut self.move_in), delete: std::mem::take(&mut self.delete).into_iter().collect() };
            write_whole(&self.journal, &journal)?;
            self.carry_out(&journal)?;
            std::fs::remove_file(&self.journal).map_err(io_error(&self.journal))?;
        }
        std::fs::remove_file(&self.pending_marker).map_err(io_error(&self.pending_marker))?;
        Ok((summary, self.hashes))
    }

    fn carry_out(&self, journal: &Journal) -> Result<(), ChannelError> {
        use rayon::prelude::*;
        // Each rename waits on the file system; files in different folders
        // are moved in side by side.
        journal.move_in.par_iter().try_for_each(|path| {
            let target = self.folder.join(relative(path)?);
            let from = pending(&target);
            match std::fs::rename(&from, &target) {
                // Moved before an interruption: nothing left to move.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound && target.exists() => Ok(()),
                moved => moved.map_err(io_error(&from)),
            }
        })?;
        for path in &journal.delete {
            let target = self.folder.join(relative(path)?);
            match std::fs::remove_file(&target) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(ChannelError::Io { path: target.display().to_string(), source: error });
                }
                _ => remove_empty_parents(&self.folder, &target),
            }
        }
        Ok(())
    }
}

/// Writes a file whole or not at all: a new one beside it, renamed over
/// it. Not synced to disk: an export is made again from the database at
/// any time, and what it guards against is an interrupted process.
pub fn write_whole(path: &Path, value: &impl Serialize) -> Result<(), ChannelError> {
    use std::io::Write;
    let temporary = path.with_extension("tmp");
    let file = std::fs::File::create(&temporary).map_err(io_error(&temporary))?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    serde_json::to_writer(&mut writer, value).map_err(ChannelError::Json)?;
    writer.flush().and_then(|()| std::fs::rename(&temporary, path)).map_err(io_error(path))
}

/// Removes the folders a deleted file leaves empty, up to `root`.
fn remove_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(folder) = dir.filter(|d| *d != root && d.starts_with(root)) {
        if std::fs::remove_dir(folder).is_err() {
            break;
        }
        dir = folder.parent();
    }
}

/// A channel path as a relative path that stays inside the folder: plain
/// names only — no `..`, no root, no drive, no NUL, no backslash.
fn relative(path: &str) -> Result<PathBuf, ChannelError> {
    let unsafe_path = || ChannelError::UnsafePath(path.escape_debug().to_string());
    if path.is_empty() || path.contains(['\0', '\\']) {
        return Err(unsafe_path());
    }
    let relative = PathBuf::from(path);
    if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(unsafe_path());
    }
    Ok(relative)
}

/// Relative paths of the files below `folder`.
fn files_below(folder: &Path) -> std::io::Result<BTreeSet<PathBuf>> {
    let mut found = BTreeSet::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(dir) = pending.pop() {
        for item in std::fs::read_dir(folder.join(&dir))? {
            let item = item?;
            let path = dir.join(item.file_name());
            if item.file_type()?.is_dir() {
                pending.push(path);
            } else {
                found.insert(path);
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(folder: &Path, previous: Option<FileHashes>, files: &[(&str, &str)]) -> (WriteSummary, FileHashes) {
        let mut writer = Writer::open(folder, previous, true).unwrap();
        for (path, text) in files {
            writer.put(path, text.as_bytes()).unwrap();
        }
        writer.commit().unwrap()
    }

    #[test]
    fn writes_only_what_changed_and_deletes_what_went() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("app");
        let (first, hashes) = export(&folder, None, &[("a.json", "1"), ("x/b.json", "2")]);
        assert_eq!(first, WriteSummary { written: 2, deleted: 0, unchanged: 0 });
        let (again, _) = export(&folder, None, &[("a.json", "1"), ("x/b.json", "2")]);
        assert_eq!(again, WriteSummary { written: 0, deleted: 0, unchanged: 2 });
        let (known, _) = export(&folder, Some(hashes.clone()), &[("a.json", "1"), ("x/b.json", "2")]);
        assert_eq!(known, WriteSummary { written: 0, deleted: 0, unchanged: 2 });
        let (changed, _) = export(&folder, None, &[("a.json", "1"), ("c.json", "3")]);
        assert_eq!(changed, WriteSummary { written: 1, deleted: 1, unchanged: 1 });
        assert!(!folder.join("x").exists(), "an emptied folder is removed");
        assert_eq!(std::fs::read_to_string(folder.join("c.json")).unwrap(), "3");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, ["app"]);
    }

    #[test]
    fn known_hashes_say_what_to_delete() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("web");
        let (_, hashes) = export(&folder, None, &[("a.html", "1"), ("b.html", "2")]);
        let mut writer = Writer::open(&folder, Some(hashes), false).unwrap();
        writer.put("a.html", b"changed").unwrap();
        writer.remove("b.html");
        let (summary, hashes) = writer.commit().unwrap();
        assert_eq!(summary, WriteSummary { written: 1, deleted: 1, unchanged: 0 });
        assert_eq!(hashes.keys().collect::<Vec<_>>(), ["a.html"]);
        assert_eq!(std::fs::read_to_string(folder.join("a.html")).unwrap(), "changed");
        assert!(!folder.join("b.html").exists());
    }

    #[test]
    fn an_interrupted_export_is_discarded_or_finished() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("kb115");
        let names = |dir: &Path| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
            names.sort();
            names
        };

        // A first export interrupted: its staging folder is thrown away.
        std::fs::create_dir_all(dir.path().join(".kb115.new")).unwrap();
        std::fs::write(dir.path().join(".kb115.new/a.json"), "half").unwrap();
        export(&folder, None, &[("a.json", "1"), ("x/b.json", "2")]);
        assert_eq!(names(dir.path()), ["kb115"]);

        // Interrupted before the journal: the files written beside the
        // folder's own are deleted, the folder's own are untouched.
        std::fs::write(dir.path().join(".kb115.pending"), "").unwrap();
        std::fs::write(folder.join(".a.json.katalog-new"), "half").unwrap();
        std::fs::write(folder.join("x/.c.json.katalog-new"), "half").unwrap();
        let (summary, _) = export(&folder, None, &[("a.json", "1"), ("x/b.json", "2")]);
        assert_eq!(summary, WriteSummary { written: 0, deleted: 0, unchanged: 2 });
        assert_eq!(std::fs::read_to_string(folder.join("a.json")).unwrap(), "1");
        assert_eq!(names(&folder), ["a.json", "x"]);
        assert_eq!(names(&folder.join("x")), ["b.json"]);
        assert_eq!(names(dir.path()), ["kb115"]);

        // Interrupted after the journal, one file moved: the rest follows.
        std::fs::write(dir.path().join(".kb115.pending"), "").unwrap();
        std::fs::write(folder.join(".c.json.katalog-new"), "3").unwrap();
        std::fs::write(folder.join("a.json"), "new").unwrap();
        let journal = Journal { move_in: vec!["a.json".into(), "c.json".into()], delete: vec!["x/b.json".into()] };
        std::fs::write(dir.path().join(".kb115.journal"), serde_json::to_vec(&journal).unwrap()).unwrap();
        Writer::open(&folder, None, false).unwrap().commit().unwrap();
        assert_eq!(std::fs::read_to_string(folder.join("c.json")).unwrap(), "3");
        assert_eq!(std::fs::read_to_string(folder.join("a.json")).unwrap(), "new");
        assert_eq!(names(&folder), ["a.json", "c.json"], "the emptied folder x is removed");
        assert_eq!(names(dir.path()), ["kb115"]);
    }

    #[test]
    fn changes_wait_beside_their_files_until_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("web");
        let (_, hashes) = export(&folder, None, &[("de/a/index.html", "1")]);
        let mut writer = Writer::open(&folder, Some(hashes), true).unwrap();
        writer.put("de/a/index.html", b"2").unwrap();
        writer.put("de/b/index.html", b"3").unwrap();
        // Readers of the folder still see the previous export.
        assert_eq!(std::fs::read_to_string(folder.join("de/a/index.html")).unwrap(), "1");
        assert!(!folder.join("de/b/index.html").exists());
        let (summary, _) = writer.commit().unwrap();
        assert_eq!(summary, WriteSummary { written: 2, deleted: 0, unchanged: 0 });
        assert_eq!(std::fs::read_to_string(folder.join("de/a/index.html")).unwrap(), "2");
        assert_eq!(std::fs::read_to_string(folder.join("de/b/index.html")).unwrap(), "3");
        let left: Vec<_> = files_below(&folder).unwrap().into_iter().filter(|p| is_pending(p)).collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn paths_never_leave_the_folder() {
        for bad in ["../x", "/etc/passwd", "a/../../b", "a\\..\\b", "a\0b", "", "./a", "a//b/.."] {
            assert!(relative(bad).is_err(), "{bad:?}");
        }
        assert_eq!(relative("service/a.de.json").unwrap(), PathBuf::from("service/a.de.json"));
    }
}
