//! Integration tests against SQLite and PostgreSQL: the server built in the
//! test's process, the `katalog` binary for the command line, signals and logs.

// The server built in the test's process allocates as the binary does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
mod holidays;
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
