use std::fmt;
use std::str::FromStr;

/// What a token may do; each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read drafts (preview).
    Reader,
    /// Create, edit and submit.
    Editor,
    /// Also approve, publish, schedule and unpublish.
    Publisher,
    /// Also tokens, trash, hard delete, webhooks.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Reader, Role::Editor, Role::Publisher, Role::Admin];

    pub fn code(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Editor => "editor",
            Role::Publisher => "publisher",
            Role::Admin => "admin",
        }
    }

    pub fn includes(self, other: Role) -> bool {
        self >= other
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(code: &str) -> Result<Self, String> {
        Role::ALL.into_iter().find(|r| r.code() == code).ok_or_else(|| {
            let known: Vec<&str> = Role::ALL.iter().map(|r| r.code()).collect();
            format!("unknown role `{code}`; one of {}", known.join(", "))
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
