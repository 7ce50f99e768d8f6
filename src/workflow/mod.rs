//! The editorial workflow: states and transitions per entry and locale,
//! roles, and what publishing requires.

pub mod editing;
mod publishing;
pub mod scheduler;
mod role;
mod state;

pub use publishing::{channel_gaps, draft_violations, missing_for_channel, publishing_problems};
pub use role::Role;
pub use state::{Action, Effect, State};
