//! The editorial workflow of one locale of an entry, as a pure state
//! machine: draft → in review → published, and archived.
//!
//! The state describes the newest revision. Which revision readers get is
//! separate: a published entry keeps serving its published revision while
//! a newer draft is edited.

use std::fmt;
use std::str::FromStr;

use super::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Draft,
    InReview,
    Published,
    Archived,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Editor hands a draft to review.
    Submit,
    /// Reviewer sends it back, with a comment.
    RequestChanges,
    /// Reviewer approves and publishes the newest revision.
    Publish,
    /// Take the entry off the channels; its revisions stay.
    Unpublish,
    /// Retire the entry; it is off the channels and out of the work lists.
    Archive,
}

/// What a transition does to the published revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    PublishNewest,
    Withdraw,
}

impl State {
    pub const ALL: [State; 4] = [State::Draft, State::InReview, State::Published, State::Archived];

    pub fn code(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::InReview => "in_review",
            State::Published => "published",
            State::Archived => "archived",
        }
    }

    /// Actions allowed from this state, whoever asks.
    pub fn allowed(self, live: bool) -> Vec<Action> {
        use Action::*;
        let mut actions = match self {
            State::Draft => vec![Submit, Publish, Archive],
            State::InReview => vec![RequestChanges, Publish, Archive],
            State::Published => vec![Archive],
            State::Archived => vec![],
        };
        if live {
            actions.push(Unpublish);
        }
        actions
    }

    /// The state after `action`, or the actions that are allowed instead.
    /// `live` says whether a revision of this locale is published now.
    pub fn apply(self, action: Action, live: bool) -> Result<(State, Effect), Vec<Action>> {
        if !self.allowed(live).contains(&action) {
            return Err(self.allowed(live));
        }
        Ok(match action {
            Action::Submit => (State::InReview, Effect::None),
            Action::RequestChanges => (State::Draft, Effect::None),
            Action::Publish => (State::Published, Effect::PublishNewest),
            Action::Unpublish => (State::Draft, Effect::Withdraw),
            Action::Archive => (State::Archived, if live { Effect::Withdraw } else { Effect::None }),
        })
    }
}

impl Action {
    pub const ALL: [Action; 5] = [Action::Submit, Action::RequestChanges, Action::Publish, Action::Unpublish, Action::Archive];

    pub fn code(self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::RequestChanges => "request_changes",
            Action::Publish => "publish",
            Action::Unpublish => "unpublish",
            Action::Archive => "archive",
        }
    }

    /// The least role that may take this action.
    pub fn required_role(self) -> Role {
        match self {
            Action::Submit => Role::Editor,
            Action::RequestChanges | Action::Publish | Action::Unpublish | Action::Archive => Role::Publisher,
        }
    }
}

impl FromStr for State {
    type Err = ();
    fn from_str(code: &str) -> Result<Self, ()> {
        State::ALL.into_iter().find(|s| s.code() == code).ok_or(())
    }
}

impl FromStr for Action {
    type Err = ();
    fn from_str(code: &str) -> Result<Self, ()> {
        Action::ALL.into_iter().find(|a| a.code() == code).ok_or(())
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_review_path() {
        let (state, effect) = State::Draft.apply(Action::Submit, false).unwrap();
        assert_eq!((state, effect), (State::InReview, Effect::None));
        let (state, effect) = state.apply(Action::Publish, false).unwrap();
        assert_eq!((state, effect), (State::Published, Effect::PublishNewest));
        let (state, effect) = state.apply(Action::Unpublish, true).unwrap();
        assert_eq!((state, effect), (State::Draft, Effect::Withdraw));
    }

    #[test]
    fn refused_transitions_name_the_allowed_ones() {
        assert_eq!(State::Published.apply(Action::Submit, true), Err(vec![Action::Archive, Action::Unpublish]));
        assert_eq!(State::Archived.apply(Action::Publish, false), Err(vec![]));
        assert!(State::Draft.apply(Action::Unpublish, false).is_err(), "nothing to unpublish");
        // A newer draft of a live entry can still be withdrawn.
        assert_eq!(State::Draft.apply(Action::Unpublish, true), Ok((State::Draft, Effect::Withdraw)));
    }

    #[test]
    fn codes_round_trip() {
        for state in State::ALL {
            assert_eq!(state.code().parse::<State>(), Ok(state));
        }
        for action in Action::ALL {
            assert_eq!(action.code().parse::<Action>(), Ok(action));
        }
    }
}
