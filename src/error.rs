//! The one error type of the extension and its SQLSTATE mapping.
//!
//! The core returns `Result<T, Error>` without knowing about Postgres; the SQL layer
//! turns an `Error` into an `ERROR` with the SQLSTATE of its kind (`raise`).

use std::fmt;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

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
        }
    }

    fn code(self) -> PgSqlErrorCode {
        match self {
            ErrorKind::InvalidParameter => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            ErrorKind::DatatypeMismatch => PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            ErrorKind::OutOfRange => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
            ErrorKind::ProgramLimit => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            ErrorKind::Syntax => PgSqlErrorCode::ERRCODE_SYNTAX_ERROR,
            ErrorKind::DatetimeOverflow => PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW,
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

    /// Raise this error as a Postgres ERROR; does not return.
    pub fn raise(self) -> ! {
        let mut report = ErrorReport::new(self.kind.code(), self.message, "pg_marketing");
        if let Some(hint) = self.hint {
            report = report.set_hint(hint);
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("an ERROR report returns control to Postgres")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind.sqlstate())
    }
}

impl std::error::Error for Error {}

/// `result.or_raise()` in the SQL layer: the value, or the error raised as an ERROR.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T> {
    fn or_raise(self) -> T {
        self.unwrap_or_else(|e| e.raise())
    }
}
