//! The HTTP layer under the API ([`crate::api`]) and the editor UI
//! ([`crate::admin`]): the state every handler reaches, problem+json,
//! parameters, request ids, security headers and CORS, rate and size
//! limits, metrics, the editor session, and the one application that
//! assembles them all ([`routes::app`]).

// ApiError carries its problem body inline; it is built at most once per
// request, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod body;
pub mod limits;
pub mod metrics;
pub mod params;
pub mod problem;
pub mod request_id;
pub mod routes;
pub mod security;
pub mod session;
mod state;

pub use limits::RateLimits;
pub use security::{BadOrigin, check_origin};
pub use state::{AppState, Settings};

