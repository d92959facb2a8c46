//! Reading a caller's data: the one way every function takes its input.
//!
//! An argument such as `touchpoints` holds either a query text or a bare table or view
//! name. It runs through SPI under the caller's privileges (the functions are never
//! SECURITY DEFINER), read-only, and its rows are streamed through a cursor in batches
//! whose memory is released batch by batch. Columns are read by position and coerced:
//!
//! | kind      | accepted types                                   | read as                 |
//! |-----------|--------------------------------------------------|-------------------------|
//! | Key       | any                                              | text (its output form)  |
//! | Timestamp | timestamptz, timestamp, date                     | timestamptz (session TZ)|
//! | Number    | smallint, integer, bigint, real, float8, numeric | float8                  |
//! | Text      | text, varchar, char, name                        | text                    |
//! | Path      | a Text type, or text[] / varchar[]               | list of channel names   |
//!
//! Domains count as their base type. A wrong column count or type is an ERROR 42804 that
//! names the position, the column, the type found and the types accepted. Errors of the
//! caller's query itself pass through with Postgres' own SQLSTATE.

use std::borrow::Cow;
use std::ffi::CStr;

use pgrx::pg_sys::panic::ErrorReportable;
use pgrx::pg_sys::{self, BuiltinOid};
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

use crate::error::{Error, OrRaise};

/// Rows fetched from the cursor per batch.
const BATCH_ROWS: i64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An identifier of any type (customer, journey), read as text.
    Key,
    Timestamp,
    Number,
    Text,
    /// A list of names: an array, or a text split on a separator.
    Path,
}

impl Kind {
    fn wanted(self) -> &'static str {
        match self {
            Kind::Key => "any type",
            Kind::Timestamp => "timestamptz, timestamp or date",
            Kind::Number => "a number (smallint, integer, bigint, real, double precision or numeric)",
            Kind::Text => "text, varchar, char or name",
            Kind::Path => "text or text[]",
        }
    }
}

/// One expected column: its name in the documentation and its kind.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

pub const fn column(name: &'static str, kind: Kind) -> Column {
    Column { name, kind }
}

/// The expected shape of one query-text argument, e.g. `touchpoints (journey_key, ts, channel)`.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// The argument's name in the SQL signature, used in messages.
    pub argument: &'static str,
    pub columns: &'static [Column],
}

impl Shape {
    fn describe(&self) -> String {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|c| match c.kind {
                Kind::Key => format!("{} any", c.name),
                Kind::Timestamp => format!("{} timestamptz", c.name),
                Kind::Number => format!("{} numeric", c.name),
                Kind::Text => format!("{} text", c.name),
                Kind::Path => format!("{} text or text[]", c.name),
            })
            .collect();
        format!("({})", columns.join(", "))
    }
}

/// The SQL to run for an argument: a bare, possibly schema-qualified and quoted, relation
/// name becomes `SELECT * FROM name`; anything else is taken as a query.
pub fn query_text(query_or_relation: &str) -> String {
    let trimmed = query_or_relation.trim();
    if is_qualified_name(trimmed) {
        format!("SELECT * FROM {trimmed}")
    } else {
        trimmed.to_string()
    }
}

/// `name`, `schema.name`, `"Quoted ""name"""`, ...: identifiers joined by dots, nothing else.
pub fn is_qualified_name(text: &str) -> bool {
    let mut chars = text.chars().peekable();
    loop {
        match chars.next() {
            Some('"') => {
                let mut empty = true;
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            empty = false;
                        }
                        Some('"') => break,
                        Some(_) => empty = false,
                        None => return false,
                    }
                }
                if empty {
                    return false;
                }
            }
            Some(c) if c.is_alphabetic() || c == '_' => {
                while chars.peek().is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '$') {
                    chars.next();
                }
            }
            _ => return false,
        }
        match chars.next() {
            None => return true,
            Some('.') => continue,
            Some(_) => return false,
        }
    }
}

/// How one column's datums become values, chosen once from the result's column type.
#[derive(Debug, Clone, Copy)]
enum Reader {
    Varlena,
    Bpchar,
    Name,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    TimestampTz,
    Timestamp,
    Date,
    TextArray,
    /// Any other type, through its output function (keys only).
    Output(pg_sys::Oid),
}

impl Reader {
    fn for_column(kind: Kind, type_oid: pg_sys::Oid) -> Option<Reader> {
        use BuiltinOid::*;
        let base = unsafe { pg_sys::getBaseType(type_oid) };
        let builtin = BuiltinOid::try_from(base).ok();
        let reader = match builtin {
            Some(TEXTOID | VARCHAROID) => Reader::Varlena,
            Some(BPCHAROID) => Reader::Bpchar,
            Some(NAMEOID) => Reader::Name,
            Some(INT2OID) => Reader::Int2,
            Some(INT4OID) => Reader::Int4,
            Some(INT8OID) => Reader::Int8,
            Some(FLOAT4OID) => Reader::Float4,
            Some(FLOAT8OID) => Reader::Float8,
            Some(NUMERICOID) => Reader::Numeric,
            Some(TIMESTAMPTZOID) => Reader::TimestampTz,
            Some(TIMESTAMPOID) => Reader::Timestamp,
            Some(DATEOID) => Reader::Date,
            Some(TEXTARRAYOID | VARCHARARRAYOID) => Reader::TextArray,
            _ => Reader::Output(base),
        };
        // a key of a type without a text reader of its own goes through its output function
        let reader = match reader {
            Reader::Varlena | Reader::Bpchar | Reader::Name | Reader::Int2 | Reader::Int4 | Reader::Int8 => {
                reader
            }
            _ if kind == Kind::Key => Reader::Output(base),
            _ => reader,
        };
        let accepted = match kind {
            Kind::Key => true,
            Kind::Text => matches!(reader, Reader::Varlena | Reader::Bpchar | Reader::Name),
            Kind::Path => {
                matches!(reader, Reader::Varlena | Reader::Bpchar | Reader::Name | Reader::TextArray)
            }
            Kind::Number => matches!(
                reader,
                Reader::Int2
                    | Reader::Int4
                    | Reader::Int8
                    | Reader::Float4
                    | Reader::Float8
                    | Reader::Numeric
            ),
            Kind::Timestamp => matches!(reader, Reader::TimestampTz | Reader::Timestamp | Reader::Date),
        };
        if !accepted {
            return None;
        }
        match reader {
            Reader::Output(oid) => {
                let mut output_function = pg_sys::Oid::INVALID;
                let mut is_varlena = false;
                unsafe { pg_sys::getTypeOutputInfo(oid, &mut output_function, &mut is_varlena) };
                Some(Reader::Output(output_function))
            }
            other => Some(other),
        }
    }
}

/// One row of the caller's data, valid during the visit callback.
pub struct Row<'r> {
    shape: &'r Shape,
    readers: &'r [Reader],
    datums: &'r [Option<pg_sys::Datum>],
}

impl Row<'_> {
    /// A Key or Text column as text; NULL is None.
    pub fn text(&self, index: usize) -> Option<Cow<'_, str>> {
        let datum = self.datums[index]?;
        Some(unsafe {
            match self.readers[index] {
                Reader::Varlena => varlena_text(datum),
                Reader::Bpchar => match varlena_text(datum) {
                    Cow::Borrowed(s) => Cow::Borrowed(s.trim_end_matches(' ')),
                    Cow::Owned(s) => Cow::Owned(s.trim_end_matches(' ').to_string()),
                },
                Reader::Name => CStr::from_ptr(datum.cast_mut_ptr::<std::ffi::c_char>()).to_string_lossy(),
                Reader::Int2 => Cow::Owned((datum.value() as i16).to_string()),
                Reader::Int4 => Cow::Owned((datum.value() as i32).to_string()),
                Reader::Int8 => Cow::Owned((datum.value() as i64).to_string()),
                Reader::Output(function) => {
                    let cstring = pg_sys::OidOutputFunctionCall(function, datum);
                    let text = CStr::from_ptr(cstring).to_string_lossy().into_owned();
                    pg_sys::pfree(cstring.cast());
                    Cow::Owned(text)
                }
                _ => unreachable!("column {index} of {} is not a text column", self.shape.argument),
            }
        })
    }

    /// A Path column as names: array elements (NULLs skipped), or the text split on
    /// `separator` with blanks trimmed. NULL is None.
    pub fn path(&self, index: usize, separator: &str) -> Option<Vec<String>> {
        let datum = self.datums[index]?;
        match self.readers[index] {
            Reader::TextArray => {
                let elements = unsafe {
                    Vec::<Option<String>>::from_polymorphic_datum(datum, false, pg_sys::TEXTARRAYOID)
                };
                Some(elements.unwrap_or_default().into_iter().flatten().collect())
            }
            _ => {
                let text = self.text(index)?;
                Some(crate::core::split_path(&text, separator).into_iter().map(str::to_string).collect())
            }
        }
    }

    /// A Number column as float8; NULL is None. NaN and infinity raise 22023.
    pub fn number(&self, index: usize) -> Option<f64> {
        let datum = self.datums[index]?;
        let value = unsafe {
            match self.readers[index] {
                Reader::Int2 => datum.value() as i16 as f64,
                Reader::Int4 => datum.value() as i32 as f64,
                Reader::Int8 => datum.value() as i64 as f64,
                Reader::Float4 => f32::from_bits(datum.value() as u32) as f64,
                Reader::Float8 => f64::from_bits(datum.value() as u64),
                Reader::Numeric => f64::from_bits(
                    pgrx::direct_function_call_as_datum(pg_sys::numeric_float8, &[Some(datum)])
                        .expect("numeric_float8 returns a value for a non-NULL numeric")
                        .value() as u64,
                ),
                _ => unreachable!("column {index} of {} is not a number column", self.shape.argument),
            }
        };
        if !value.is_finite() {
            self.not_finite(index, "NaN or infinite").raise();
        }
        Some(value)
    }

    /// A Timestamp column as microseconds since 2000-01-01 00:00 UTC (Postgres' timestamptz);
    /// NULL is None. -infinity and infinity raise 22023.
    pub fn timestamp(&self, index: usize) -> Option<i64> {
        let datum = self.datums[index]?;
        let converted = |function| unsafe {
            pgrx::direct_function_call_as_datum(function, &[Some(datum)])
                .expect("timestamptz conversions return a value for a non-NULL input")
        };
        let micros = match self.readers[index] {
            Reader::TimestampTz => datum,
            Reader::Timestamp => converted(pg_sys::timestamp_timestamptz),
            Reader::Date => converted(pg_sys::date_timestamptz),
            _ => unreachable!("column {index} of {} is not a timestamp column", self.shape.argument),
        }
        .value() as i64;
        if micros == i64::MIN || micros == i64::MAX {
            self.not_finite(index, "infinite").raise();
        }
        Some(micros)
    }

    fn not_finite(&self, index: usize, what: &str) -> Error {
        let column = &self.shape.columns[index];
        let context = match self.shape.columns[0].kind {
            Kind::Key | Kind::Text if index != 0 => match self.text(0) {
                Some(first) => format!(" (row with {} '{}')", self.shape.columns[0].name, first),
                None => String::new(),
            },
            _ => String::new(),
        };
        Error::invalid_parameter(format!(
            "{}: column {} ({}) is {what}{context}",
            self.shape.argument,
            index + 1,
            column.name
        ))
        .with_hint("pg_marketing needs finite values; filter such rows out or replace them in the query")
    }
}

unsafe fn varlena_text<'a>(datum: pg_sys::Datum) -> Cow<'a, str> {
    let varlena = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
    let bytes = std::slice::from_raw_parts(
        pgrx::varlena::vardata_any(varlena) as *const u8,
        pgrx::varlena::varsize_any_exhdr(varlena),
    );
    String::from_utf8_lossy(bytes)
}

/// Checks the result's columns against the shape and picks a reader for each.
unsafe fn readers_for(shape: &Shape, tupdesc: pg_sys::TupleDesc) -> Result<Vec<Reader>, Error> {
    let natts = (*tupdesc).natts as usize;
    if natts != shape.columns.len() {
        return Err(Error::datatype_mismatch(format!(
            "{}: the query returns {} column{}, but {} are expected: {}",
            shape.argument,
            natts,
            if natts == 1 { "" } else { "s" },
            shape.columns.len(),
            shape.describe()
        ))
        .with_hint("columns are read by position; select exactly these columns in this order"));
    }
    shape
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let attribute = (*tupdesc).attrs.as_slice(natts)[i];
            let type_oid = attribute.atttypid;
            Reader::for_column(column.kind, type_oid).ok_or_else(|| {
                let found = CStr::from_ptr(pg_sys::format_type_be(type_oid)).to_string_lossy();
                let name = CStr::from_ptr(attribute.attname.data.as_ptr()).to_string_lossy();
                Error::datatype_mismatch(format!(
                    "{}: column {} (\"{}\", read as {}) has type {}, but {} is expected",
                    shape.argument,
                    i + 1,
                    name,
                    column.name,
                    found,
                    column.kind.wanted()
                ))
                .with_hint(format!(
                    "cast the column in the query, e.g. \"{name}\"::{}",
                    cast_for(column.kind)
                ))
            })
        })
        .collect()
}

fn cast_for(kind: Kind) -> &'static str {
    match kind {
        Kind::Key | Kind::Text | Kind::Path => "text",
        Kind::Timestamp => "timestamptz",
        Kind::Number => "float8",
    }
}

/// Runs `query_or_relation` and calls `visit` for each row, in the query's order.
pub fn for_each_row(shape: &Shape, query_or_relation: &str, mut visit: impl FnMut(&Row)) {
    let query = query_text(query_or_relation);
    Spi::connect(|client| {
        let mut cursor = client.try_open_cursor(query.as_str(), &[]).unwrap_or_report();
        let mut readers: Option<Vec<Reader>> = None;
        let mut batch_memory = PgMemoryContexts::new("pg_marketing input batch");
        let mut datums = vec![None; shape.columns.len()];
        loop {
            check_for_interrupts!();
            // The batch is read through SPI_tuptable below rather than the returned wrapper.
            let _ = cursor.fetch(BATCH_ROWS).unwrap_or_report();
            // SAFETY: the fetch just set SPI_tuptable; it is freed below, after its last use.
            unsafe {
                let table = pg_sys::SPI_tuptable;
                if table.is_null() {
                    break;
                }
                let tupdesc = (*table).tupdesc;
                let readers = readers.get_or_insert_with(|| readers_for(shape, tupdesc).or_raise());
                let rows = (*table).numvals as usize;
                batch_memory.switch_to(|_| {
                    for &tuple in std::slice::from_raw_parts((*table).vals, rows) {
                        for (i, slot) in datums.iter_mut().enumerate() {
                            let mut is_null = false;
                            let datum = pg_sys::SPI_getbinval(tuple, tupdesc, (i + 1) as i32, &mut is_null);
                            *slot = (!is_null).then_some(datum);
                        }
                        visit(&Row { shape, readers, datums: &datums });
                    }
                });
                batch_memory.reset();
                pg_sys::SPI_freetuptable(table);
                if (rows as i64) < BATCH_ROWS {
                    break;
                }
            }
        }
    })
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn bare_names_become_select_star() {
        assert_eq!(query_text("touchpoints"), "SELECT * FROM touchpoints");
        assert_eq!(query_text("  mkt.touchpoints \n"), "SELECT * FROM mkt.touchpoints");
        assert_eq!(
            query_text(r#""My Schema"."Touch ""points""""#),
            r#"SELECT * FROM "My Schema"."Touch ""points""""#
        );
        assert_eq!(query_text("t_2$x"), "SELECT * FROM t_2$x");
    }

    #[test]
    fn anything_else_is_a_query() {
        for query in [
            "SELECT * FROM t",
            "TABLE t",
            "t WHERE true",
            "a..b",
            "a.",
            ".a",
            "\"\"",
            "\"unterminated",
            "t;",
            "1abc",
            "",
        ] {
            assert_eq!(query_text(query), query.trim(), "{query:?}");
        }
    }
}
