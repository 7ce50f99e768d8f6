use std::fmt;
use std::path::PathBuf;

use crate::content::file_format::FileProblem;

/// One thing wrong in the content folder, with where it is: the file
/// (relative to the folder), the line and the field's JSON pointer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub pointer: Option<String>,
    pub message: String,
}

impl Problem {
    pub fn new(file: impl Into<PathBuf>, line: Option<usize>, pointer: Option<String>, message: impl Into<String>) -> Self {
        Problem { file: file.into(), line, pointer, message: message.into() }
    }

    pub fn in_file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Problem::new(file, None, None, message)
    }

    pub fn from_file_problem(file: impl Into<PathBuf>, problem: FileProblem) -> Self {
        Problem::new(file, problem.line, problem.pointer, problem.message)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(pointer) = self.pointer.as_deref().filter(|p| !p.is_empty()) {
            write!(f, ": {pointer}")?;
        }
        write!(f, ": {}", self.message)
    }
}
