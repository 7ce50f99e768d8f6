//! Integration tests: the real `katalog` binary against SQLite and PostgreSQL.

mod bad_input;
mod contract;
mod delivery;
mod exports;
mod helpers;
mod manage;
mod partner;
mod search;
mod storage;
mod sync;
mod webhooks;
