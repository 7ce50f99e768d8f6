//! katalog: a headless CMS and multi-channel publishing backend for
//! public-service information.

pub mod content;
pub mod store;
pub mod import;
pub mod admin;
pub mod api;
pub mod http;
pub mod cli;
pub mod config;
pub mod generate;
pub mod server;
pub mod workflow;
pub mod auth;
pub mod background;
pub mod backup;
pub mod digest;
pub mod render;
pub mod channels;
pub mod search;
pub mod webhooks;
pub mod feed;
pub mod outbound;
pub mod partner;
pub mod quality;

/// Makes every TLS client of the process (webhook deliveries) use ring, as
/// the database driver does. Safe to call more than once.
pub fn use_ring_for_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
