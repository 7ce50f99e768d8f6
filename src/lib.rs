//! katalog: a headless CMS and multi-channel publishing backend for
//! public-service information.

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod background;
pub mod backup;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod content;
pub mod digest;
pub mod feed;
pub mod generate;
pub mod holidays;
pub mod http;
pub mod import;
pub mod outbound;
pub mod partner;
pub mod quality;
pub mod render;
pub mod search;
pub mod server;
pub mod settings;
pub mod store;
pub mod webhooks;
pub mod workflow;

/// Makes every TLS client of the process (webhook deliveries) use ring, as
/// the database driver does. Safe to call more than once.
pub fn use_ring_for_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
