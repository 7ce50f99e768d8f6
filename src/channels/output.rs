//! Writing a channel's files: only what changed, never half.
//!
//! The new files are compared with the folder on disk. Nothing changed:
//! nothing is written. Otherwise a sibling folder is assembled — unchanged
//! files hard-linked from the current folder (no copy), changed and new
//! ones written — and swapped in with two renames; an export interrupted
//! at any point leaves the previous one in place (or, between the two
//! renames, beside it, and the next export puts it back).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use super::ChannelError;

/// A channel's files by relative path (`/`-separated).
pub type Files = BTreeMap<String, Vec<u8>>;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteSummary {
    pub written: usize,
    pub deleted: usize,
    pub unchanged: usize,
}

/// Makes `folder` hold exactly `files`.
pub fn write_folder(folder: &Path, files: &Files) -> Result<WriteSummary, ChannelError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ChannelError::Io { path, source }
    };
    let parent = folder.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = folder.file_name().ok_or_else(|| ChannelError::UnsafePath(folder.display().to_string()))?.to_string_lossy().into_owned();
    let staging = parent.join(format!(".{name}.new"));
    let previous = parent.join(format!(".{name}.old"));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    if !folder.exists() && previous.exists() {
        std::fs::rename(&previous, folder).map_err(io(&previous))?;
    }
    for leftover in [&staging, &previous] {
        if leftover.exists() {
            std::fs::remove_dir_all(leftover).map_err(io(leftover))?;
        }
    }

    let existing = if folder.exists() { files_below(folder).map_err(io(folder))? } else { BTreeSet::new() };
    let mut summary = WriteSummary::default();
    let mut same = BTreeSet::new();
    for (path, bytes) in files {
        let target = relative(path)?;
        let current = folder.join(&target);
        if existing.contains(&target) && std::fs::read(&current).is_ok_and(|old| old == *bytes) {
            summary.unchanged += 1;
            same.insert(target);
        } else {
            summary.written += 1;
        }
    }
    let wanted: BTreeSet<PathBuf> = files.keys().map(|p| relative(p)).collect::<Result<_, _>>()?;
    summary.deleted = existing.iter().filter(|path| !wanted.contains(*path)).count();
    if summary.written == 0 && summary.deleted == 0 && folder.exists() {
        return Ok(summary);
    }

    for (path, bytes) in files {
        let target = relative(path)?;
        let destination = staging.join(&target);
        if let Some(dir) = destination.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        if same.contains(&target) {
            std::fs::hard_link(folder.join(&target), &destination).map_err(io(&destination))?;
        } else {
            std::fs::write(&destination, bytes).map_err(io(&destination))?;
        }
    }
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    if folder.exists() {
        std::fs::rename(folder, &previous).map_err(io(folder))?;
    }
    std::fs::rename(&staging, folder).map_err(io(&staging))?;
    if previous.exists() {
        std::fs::remove_dir_all(&previous).map_err(io(&previous))?;
    }
    Ok(summary)
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

    fn files(pairs: &[(&str, &str)]) -> Files {
        pairs.iter().map(|(p, c)| (p.to_string(), c.as_bytes().to_vec())).collect()
    }

    #[test]
    fn writes_only_what_changed_and_deletes_what_went() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("app");
        let first = write_folder(&folder, &files(&[("a.json", "1"), ("x/b.json", "2")])).unwrap();
        assert_eq!(first, WriteSummary { written: 2, deleted: 0, unchanged: 0 });
        let again = write_folder(&folder, &files(&[("a.json", "1"), ("x/b.json", "2")])).unwrap();
        assert_eq!(again, WriteSummary { written: 0, deleted: 0, unchanged: 2 });
        let changed = write_folder(&folder, &files(&[("a.json", "1"), ("c.json", "3")])).unwrap();
        assert_eq!(changed, WriteSummary { written: 1, deleted: 1, unchanged: 1 });
        assert!(!folder.join("x/b.json").exists());
        assert_eq!(std::fs::read_to_string(folder.join("c.json")).unwrap(), "3");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, ["app"]);
    }

    #[test]
    fn an_interrupted_swap_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("kb115");
        write_folder(&folder, &files(&[("a.json", "1")])).unwrap();
        // As if the process died between the two renames, with a half-built staging folder.
        std::fs::rename(&folder, dir.path().join(".kb115.old")).unwrap();
        std::fs::create_dir(dir.path().join(".kb115.new")).unwrap();
        let summary = write_folder(&folder, &files(&[("a.json", "1")])).unwrap();
        assert_eq!(summary, WriteSummary { written: 0, deleted: 0, unchanged: 1 });
        assert!(!dir.path().join(".kb115.new").exists() && !dir.path().join(".kb115.old").exists());
    }

    #[test]
    fn paths_never_leave_the_folder() {
        for bad in ["../x", "/etc/passwd", "a/../../b", "a\\..\\b", "a\0b", "", "./a", "a//b/.."] {
            assert!(relative(bad).is_err(), "{bad:?}");
        }
        assert_eq!(relative("service/a.de.json").unwrap(), PathBuf::from("service/a.de.json"));
    }
}
