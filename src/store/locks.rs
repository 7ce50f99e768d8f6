//! The PostgreSQL advisory locks katalog takes, each with a key of its
//! own. They are declared here together so that no two share a key by
//! accident: a shared key makes unrelated work wait for each other.

/// "katalog" in ASCII; the keys count up from it.
const BASE: i64 = 0x006b_6174_616c_6f67;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AdvisoryLock {
    /// Serialises appends to the change log, so that sequence numbers are
    /// handed out in commit order.
    ChangeLog,
    /// Keeps imports apart.
    Import,
    /// Serialises migrations, so instances of one database never migrate at once.
    Migration,
}

impl AdvisoryLock {
    #[cfg(test)]
    const ALL: [AdvisoryLock; 3] = [AdvisoryLock::ChangeLog, AdvisoryLock::Import, AdvisoryLock::Migration];

    /// The change log and imports keep the keys they always had, so that
    /// servers of the previous release still exclude this one's writes;
    /// only migrations (which run before serving) moved to a key of their own.
    pub(super) fn key(self) -> i64 {
        match self {
            AdvisoryLock::ChangeLog => BASE,
            AdvisoryLock::Import => BASE + 1,
            AdvisoryLock::Migration => BASE + 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AdvisoryLock;

    #[test]
    fn every_lock_has_a_key_of_its_own() {
        let mut keys: Vec<i64> = AdvisoryLock::ALL.iter().map(|lock| lock.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), AdvisoryLock::ALL.len(), "two advisory locks share a key");
    }
}
