//! The partner bundle reader: whatever bytes a partner serves are refused
//! with problems, never a panic, and a changed file is always noticed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use katalog::content::Registry;
use katalog::partner::{AppliedFiles, BundleSource, FetchSettings, load_bundle};
use proptest::prelude::*;

use crate::{SampleDatabase, corpus, registry, repo_path};

const MANIFEST: &str = "manifest.json";

/// The sample content exported as a partner bundle, once.
struct Sample {
    bundle: PathBuf,
    /// The bundle's files other than the manifest, as bundle paths.
    files: Vec<String>,
    registry: Registry,
    runtime: tokio::runtime::Runtime,
    _database: SampleDatabase,
}

static SAMPLE: LazyLock<Sample> = LazyLock::new(|| {
    let database = SampleDatabase::imported();
    let out = database.folder.path().join("exports");
    database.katalog(&["export", "--channel", "partner", "--out", out.to_str().unwrap(), "--content", repo_path("content").to_str().unwrap()]);
    let bundle = out.join("partner");
    let mut files = Vec::new();
    let mut pending = vec![bundle.clone()];
    while let Some(folder) = pending.pop() {
        for item in std::fs::read_dir(&folder).unwrap() {
            let path = item.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if !path.file_name().unwrap().to_string_lossy().starts_with('.') {
                files.push(path.strip_prefix(&bundle).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    files.retain(|file| file != MANIFEST);
    files.sort();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    Sample { bundle, files, registry: registry(), runtime, _database: database }
});

/// A copy of the sample bundle with `file` replaced by `bytes`; whether it
/// loaded.
fn loads_with(file: &str, bytes: impl FnOnce(Vec<u8>) -> Vec<u8>) -> bool {
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&SAMPLE.bundle, copy.path());
    let path = copy.path().join(file);
    let changed = bytes(std::fs::read(&path).unwrap_or_default());
    std::fs::write(&path, changed).unwrap();
    let source = BundleSource::Folder(copy.path().to_owned());
    // Nothing applied before: every file is read and verified.
    SAMPLE.runtime.block_on(load_bundle(&source, &SAMPLE.registry, &AppliedFiles::new(), &HashSet::new(), &FetchSettings::default())).is_ok()
}

fn copy_dir(from: &Path, to: &Path) {
    for item in std::fs::read_dir(from).unwrap() {
        let path = item.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn the_sample_bundle_loads() {
    assert!(loads_with(MANIFEST, |bytes| bytes), "the untouched bundle loads");
    assert!(SAMPLE.files.len() > 10, "{:?}", SAMPLE.files);
}

#[test]
fn the_corpus_of_manifests_is_refused() {
    for (name, bytes) in corpus("bundle") {
        assert!(!loads_with(MANIFEST, |_| bytes), "{name} was accepted");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_manifests_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert!(!loads_with(MANIFEST, |_| bytes));
    }

    #[test]
    fn a_changed_manifest_is_read_without_panic(changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        loads_with(MANIFEST, |mut bytes| {
            for (at, byte) in changes {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            bytes
        });
    }

    #[test]
    fn a_changed_file_is_noticed(file in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let file = &SAMPLE.files[file.index(SAMPLE.files.len())];
        prop_assert!(!loads_with(file, |mut bytes| {
            let at = at.index(bytes.len());
            bytes[at] ^= flip;
            bytes
        }), "a changed byte in {} went unnoticed", file);
    }

    #[test]
    fn arbitrary_files_are_refused(file in any::<prop::sample::Index>(), bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let file = &SAMPLE.files[file.index(SAMPLE.files.len())];
        prop_assert!(!loads_with(file, |_| bytes));
    }
}
