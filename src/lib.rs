//! katalog: a headless CMS and multi-channel publishing backend for
//! public-service information.

pub mod content;
pub mod store;
pub mod import;
pub mod api;
pub mod cli;
pub mod generate;
pub mod server;
pub mod workflow;
pub mod auth;
pub mod digest;
pub mod render;
