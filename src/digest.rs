//! Content hashes.

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of a text or bytes.
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    Sha256::digest(data.as_ref()).iter().map(|b| format!("{b:02x}")).collect()
}
