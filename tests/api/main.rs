//! Integration tests: the real `katalog` binary against SQLite and PostgreSQL.

mod accessibility;
mod admin;
mod audience;
mod backup;
mod bad_input;
mod browser;
mod contract;
mod crash;
mod delivery;
mod exports;
mod helpers;
mod manage;
mod ops;
mod outbound;
mod partner;
mod partner_live;
mod partner_sync;
mod protection;
mod publishing;
mod retention;
mod search;
mod site;
mod storage;
mod sync;
mod upgrade;
mod webhooks;
