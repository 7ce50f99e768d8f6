//! Writing a channel's files: only what changed, never half.
//!
//! New and changed files are written into a staging folder beside the
//! channel's folder; unchanged ones are not touched. Committing writes a
//! journal naming every file to move in and every file to delete, then
//! carries it out and removes it. An export interrupted before the journal
//! exists leaves the previous export as it was (the staging folder is
//! thrown away next time); one interrupted after is finished by the next
//! export before it does anything else. A first export, into no folder,
//! moves the whole staging folder in with one rename.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ChannelError;

/// SHA-256 (hex) of every file of a channel's folder, by relative path.
pub type FileHashes = BTreeMap<String, String>;

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
    staging: PathBuf,
    journal: PathBuf,
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

/// A file made and, when it differs from the previous export's, staged.
pub struct Staged {
    pub path: String,
    pub hash: String,
    pub written: bool,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ChannelError + use<> {
    let path = path.display().to_string();
    move |source| ChannelError::Io { path, source }
}

impl Writer {
    /// Prepares writing into `folder`, first finishing an export that was
    /// interrupted after its journal was written. `complete`: every file
    /// of the folder will be put, and the ones that are not get deleted;
    /// otherwise only files put or removed change.
    pub fn open(folder: &Path, previous: Option<FileHashes>, complete: bool) -> Result<Writer, ChannelError> {
        let parent = folder.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = folder.file_name().ok_or_else(|| ChannelError::UnsafePath(folder.display().to_string()))?.to_string_lossy().into_owned();
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        // Into no folder, everything is new.
        let previous = if folder.is_dir() { previous } else { Some(FileHashes::new()) };
        let (baseline, hashes) = match (previous, complete) {
            (None, _) => (Baseline::Disk, FileHashes::new()),
            (Some(previous), true) => (Baseline::Previous(previous), FileHashes::new()),
            (Some(previous), false) => (Baseline::Current, previous),
        };
        let writer = Writer {
            folder: folder.to_owned(),
            staging: parent.join(format!(".{name}.new")),
            journal: parent.join(format!(".{name}.journal")),
            baseline,
            hashes,
            complete,
            move_in: Vec::new(),
            delete: BTreeSet::new(),
            summary: WriteSummary::default(),
        };
        writer.recover()?;
        if writer.staging.exists() {
            std::fs::remove_dir_all(&writer.staging).map_err(io_error(&writer.staging))?;
        }
        Ok(writer)
    }

    /// Finishes the moves and deletions of an interrupted commit.
    fn recover(&self) -> Result<(), ChannelError> {
        let text = match std::fs::read(&self.journal) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(ChannelError::Io { path: self.journal.display().to_string(), source }),
        };
        // A journal cut short was never complete, so nothing was moved yet.
        if let Ok(journal) = serde_json::from_slice::<Journal>(&text) {
            self.carry_out(&journal)?;
        }
        std::fs::remove_file(&self.journal).map_err(io_error(&self.journal))
    }

    /// Hashes a file and, when it differs from the previous export's,
    /// writes it into the staging folder. Safe to call from many threads.
    pub fn stage(&self, path: String, bytes: &[u8]) -> Result<Staged, ChannelError> {
        let target = relative(&path)?;
        let hash = crate::digest::sha256_hex(bytes);
        let unchanged = match &self.baseline {
            Baseline::Previous(previous) => previous.get(&path).is_some_and(|known| *known == hash),
            Baseline::Current => self.hashes.get(&path).is_some_and(|known| *known == hash),
            Baseline::Disk => std::fs::read(self.folder.join(&target)).is_ok_and(|old| old == bytes),
        };
        if !unchanged {
            let destination = self.staging.join(&target);
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
                Baseline::Disk => files_below(&self.folder).map_err(io_error(&self.folder))?.iter().map(|p| p.to_string_lossy().into_owned()).collect(),
            };
            self.delete.extend(before.into_iter().filter(|path| !self.hashes.contains_key(path)));
        }
        let mut summary = self.summary;
        summary.deleted = self.delete.len();
        if !self.folder.exists() {
            std::fs::create_dir_all(&self.staging).map_err(io_error(&self.staging))?;
            std::fs::rename(&self.staging, &self.folder).map_err(io_error(&self.staging))?;
            return Ok((summary, self.hashes));
        }
        if self.move_in.is_empty() && self.delete.is_empty() {
            return Ok((summary, self.hashes));
        }
        let journal = Journal { move_in: std::mem::take(&mut self.move_in), delete: std::mem::take(&mut self.delete).into_iter().collect() };
        write_whole(&self.journal, &journal)?;
        self.carry_out(&journal)?;
        std::fs::remove_file(&self.journal).map_err(io_error(&self.journal))?;
        Ok((summary, self.hashes))
    }

    fn carry_out(&self, journal: &Journal) -> Result<(), ChannelError> {
        for path in &journal.move_in {
            let target = relative(path)?;
            let (from, to) = (self.staging.join(&target), self.folder.join(&target));
            // Moved before an interruption: nothing left to move.
            if !from.exists() {
                continue;
            }
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(io_error(dir))?;
            }
            std::fs::rename(&from, &to).map_err(io_error(&from))?;
        }
        for path in &journal.delete {
            let target = self.folder.join(relative(path)?);
            match std::fs::remove_file(&target) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(ChannelError::Io { path: target.display().to_string(), source: error }),
                _ => remove_empty_parents(&self.folder, &target),
            }
        }
        if self.staging.exists() {
            std::fs::remove_dir_all(&self.staging).map_err(io_error(&self.staging))?;
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
        export(&folder, None, &[("a.json", "1"), ("b.json", "2")]);

        // Interrupted before the journal: the staging folder is thrown away.
        std::fs::create_dir_all(dir.path().join(".kb115.new")).unwrap();
        std::fs::write(dir.path().join(".kb115.new/a.json"), "half").unwrap();
        let (summary, _) = export(&folder, None, &[("a.json", "1"), ("b.json", "2")]);
        assert_eq!(summary, WriteSummary { written: 0, deleted: 0, unchanged: 2 });
        assert_eq!(std::fs::read_to_string(folder.join("a.json")).unwrap(), "1");

        // Interrupted after the journal, one file moved: the rest follows.
        std::fs::create_dir_all(dir.path().join(".kb115.new")).unwrap();
        std::fs::write(dir.path().join(".kb115.new/c.json"), "3").unwrap();
        std::fs::write(folder.join("a.json"), "new").unwrap();
        let journal = Journal { move_in: vec!["a.json".into(), "c.json".into()], delete: vec!["b.json".into()] };
        std::fs::write(dir.path().join(".kb115.journal"), serde_json::to_vec(&journal).unwrap()).unwrap();
        Writer::open(&folder, None, true).unwrap();
        assert_eq!(std::fs::read_to_string(folder.join("c.json")).unwrap(), "3");
        assert_eq!(std::fs::read_to_string(folder.join("a.json")).unwrap(), "new");
        assert!(!folder.join("b.json").exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, ["kb115"]);
    }

    #[test]
    fn paths_never_leave_the_folder() {
        for bad in ["../x", "/etc/passwd", "a/../../b", "a\\..\\b", "a\0b", "", "./a", "a//b/.."] {
            assert!(relative(bad).is_err(), "{bad:?}");
        }
        assert_eq!(relative("service/a.de.json").unwrap(), PathBuf::from("service/a.de.json"));
    }
}
