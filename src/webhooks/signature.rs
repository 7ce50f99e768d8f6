//! The signature a receiver checks: `Katalog-Signature: t=<unix seconds>,v1=<hex>`,
//! where the hex is HMAC-SHA256 with the subscription's secret over
//! `<unix seconds>.<body>`. Signing the timestamp lets receivers refuse
//! replays of old deliveries.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const HEADER: &str = "Katalog-Signature";

/// The header value for a body sent at `timestamp` (Unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex(&mac(secret, timestamp, body).finalize().into_bytes()))
}

/// Whether `header` is a valid signature of `body` under `secret`
/// (comparison in constant time). Receivers should also check that the
/// timestamp is recent.
pub fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else { return false };
    signatures.into_iter().filter_map(unhex).any(|signature| mac(secret, timestamp, body).verify_slice(&signature).is_ok())
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_secret_time_and_body() {
        let header = sign("geheim", 1_790_000_000, b"{\"event\":\"entry.published\"}");
        assert!(header.starts_with("t=1790000000,v1="));
        assert!(verify("geheim", &header, b"{\"event\":\"entry.published\"}"));
        assert!(!verify("anders", &header, b"{\"event\":\"entry.published\"}"));
        assert!(!verify("geheim", &header, b"{\"event\":\"entry.deleted\"}"));
        assert!(!verify("geheim", &header.replace("t=1790000000", "t=1790000001"), b"{\"event\":\"entry.published\"}"));
        assert!(!verify("geheim", "v1=zz", b""));
    }

    #[test]
    fn matches_an_independent_hmac_sha256() {
        // Python: hmac.new(b"Jefe", b"0.what do ya want for nothing?", hashlib.sha256).hexdigest()
        assert_eq!(sign("Jefe", 0, b"what do ya want for nothing?"), "t=0,v1=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc");
    }
}
