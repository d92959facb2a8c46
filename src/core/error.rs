//! The core's error: a kind (which SQLSTATE it becomes), a message that says what to
//! change, and an optional hint. Plain values: src/error.rs raises them as Postgres ERRORs.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 22023: an argument or an input value cannot be used.
    InvalidParameter,
    /// 42804: a column of the caller's data has the wrong type, or the column count is wrong.
    DatatypeMismatch,
    /// 22003: a number is out of the range we can compute with.
    OutOfRange,
    /// 54000: the input exceeds a documented limit.
    ProgramLimit,
    /// 42601: a query text is not one statement.
    Syntax,
    /// 22008: date or time arithmetic would leave the timestamptz range.
    DatetimeOverflow,
    /// 53200: the system refused memory (raised by the SQL layer's allocator, never the core).
    OutOfMemory,
}

impl ErrorKind {
    pub fn sqlstate(self) -> &'static str {
        match self {
            ErrorKind::InvalidParameter => "22023",
            ErrorKind::DatatypeMismatch => "42804",
            ErrorKind::OutOfRange => "22003",
            ErrorKind::ProgramLimit => "54000",
            ErrorKind::Syntax => "42601",
            ErrorKind::DatetimeOverflow => "22008",
            ErrorKind::OutOfMemory => "53200",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), hint: None }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }

    pub fn datatype_mismatch(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::DatatypeMismatch, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind.sqlstate())
    }
}

impl std::error::Error for Error {}
