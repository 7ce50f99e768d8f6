//! Integration tests: the real `katalog` binary against SQLite and PostgreSQL.

mod accessibility;
mod bad_input;
mod contract;
mod delivery;
mod exports;
mod helpers;
mod manage;
mod partner;
mod partner_live;
mod partner_sync;
mod search;
mod site;
mod storage;
mod sync;
mod webhooks;
