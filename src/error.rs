//! Raising the core's errors (src/core/error.rs) as Postgres ERRORs with the SQLSTATE of
//! their kind. The core returns `Result<T, Error>` without knowing about Postgres.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

pub use crate::core::error::{Error, ErrorKind, Result};

fn code(kind: ErrorKind) -> PgSqlErrorCode {
    match kind {
        ErrorKind::InvalidParameter => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        ErrorKind::DatatypeMismatch => PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
        ErrorKind::OutOfRange => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        ErrorKind::ProgramLimit => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        ErrorKind::Syntax => PgSqlErrorCode::ERRCODE_SYNTAX_ERROR,
        ErrorKind::DatetimeOverflow => PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW,
        ErrorKind::OutOfMemory => PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
    }
}

impl Error {
    /// Raise this error as a Postgres ERROR; does not return.
    pub fn raise(self) -> ! {
        let mut report = ErrorReport::new(code(self.kind), self.message, "pg_marketing");
        if let Some(hint) = self.hint {
            report = report.set_hint(hint);
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("an ERROR report returns control to Postgres")
    }
}

/// `result.or_raise()` in the SQL layer: the value, or the error raised as an ERROR.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T> {
    fn or_raise(self) -> T {
        self.unwrap_or_else(|e| e.raise())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The five characters of a SQLSTATE packed as Postgres' MAKE_SQLSTATE packs them.
    fn unpacked(code: PgSqlErrorCode) -> String {
        let packed = code as i32;
        (0..5).map(|i| char::from(b'0' + ((packed >> (6 * i)) & 0x3F) as u8)).collect()
    }

    #[test]
    fn each_kind_raises_the_sqlstate_it_names() {
        for kind in [
            ErrorKind::InvalidParameter,
            ErrorKind::DatatypeMismatch,
            ErrorKind::OutOfRange,
            ErrorKind::ProgramLimit,
            ErrorKind::Syntax,
            ErrorKind::DatetimeOverflow,
            ErrorKind::OutOfMemory,
        ] {
            assert_eq!(unpacked(code(kind)), kind.sqlstate(), "{kind:?}");
        }
    }
}
