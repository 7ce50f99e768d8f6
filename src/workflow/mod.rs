//! The editorial workflow: states and transitions per entry and locale,
//! roles, and what publishing requires.

pub mod editing;
pub mod publishing;
mod role;
pub mod scheduler;
mod state;

pub use publishing::{Approved, PublishError, Publishable, approve, channel_gaps, check, draft_violations, publishing_problems, served_translation};
pub use role::Role;
pub use state::{Action, Effect, State};
