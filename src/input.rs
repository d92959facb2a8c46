//! Reading a caller's data: the one way every function takes its input.
//!
//! An argument such as `touchpoints` holds either a query text or a bare table or view
//! name. It runs through SPI under the caller's privileges (the functions are never
//! SECURITY DEFINER), read-only, and the executor hands its rows over one by one, without
//! copying the result (see `for_each_row`). Columns are read by position and coerced:
//!
//! | kind      | accepted types                                   | read as                 |
//! |-----------|--------------------------------------------------|-------------------------|
//! | Key       | any                                              | text (its output form)  |
//! | Timestamp | timestamptz, timestamp, date                     | timestamptz (session TZ)|
//! | Number    | smallint, integer, bigint, real, float8, numeric | float8                  |
//! | Text      | text, varchar, char, name                        | text                    |
//! | Path      | a Text type, or text[] / varchar[]               | list of channel names   |
//! | Feature   | a Number type, or float8[]                       | float8, list of float8  |
//! | Boolean   | boolean                                          | bool                    |
//!
//! Domains count as their base type. A wrong column count or type is an ERROR 42804 that
//! names the position, the column, the type found and the types accepted. Errors of the
//! caller's query itself pass through with Postgres' own SQLSTATE.

use std::borrow::Cow;
use std::ffi::CStr;

use pgrx::pg_sys::{self, BuiltinOid};
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

use crate::core::journey::Key;
use crate::error::{Error, ErrorKind, OrRaise};

/// Rows read between releases of reading's memory and checks for interrupts.
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
    /// A number, or a float8[] of them.
    Feature,
    Boolean,
    /// A class label: boolean, or an integer 0 or 1.
    Label,
}

impl Kind {
    fn wanted(self) -> &'static str {
        match self {
            Kind::Key => "any type",
            Kind::Timestamp => "timestamptz, timestamp or date",
            Kind::Number => "a number (smallint, integer, bigint, real, double precision or numeric)",
            Kind::Text => "text, varchar, char or name",
            Kind::Path => "text or text[]",
            Kind::Feature => "a number or double precision[]",
            Kind::Boolean => "boolean",
            Kind::Label => "boolean, or an integer 0 or 1",
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
    /// What may follow `columns`.
    pub more: More,
}

/// Columns a query may add after a shape's fixed ones.
#[derive(Debug, Clone, Copy)]
pub enum More {
    Nothing,
    /// Any number of further columns of this kind.
    Repeated(Column),
    /// One further column that may be left out.
    Optional(Column),
}

impl Shape {
    fn describe(&self) -> String {
        let describe = |c: &Column| match c.kind {
            Kind::Key => format!("{} any", c.name),
            Kind::Timestamp => format!("{} timestamptz", c.name),
            Kind::Number => format!("{} numeric", c.name),
            Kind::Text => format!("{} text", c.name),
            Kind::Path => format!("{} text or text[]", c.name),
            Kind::Feature => format!("{} numeric or float8[]", c.name),
            Kind::Boolean => format!("{} boolean", c.name),
            Kind::Label => format!("{} boolean or 0/1", c.name),
        };
        let mut columns: Vec<String> = self.columns.iter().map(describe).collect();
        match &self.more {
            More::Nothing => {}
            More::Repeated(c) => columns.push(format!("{}, ...", describe(c))),
            More::Optional(c) => columns.push(format!("[{}]", describe(c))),
        }
        format!("({})", columns.join(", "))
    }

    /// Whether a result of `count` columns fits.
    fn accepts(&self, count: usize) -> bool {
        let fixed = self.columns.len();
        match self.more {
            More::Nothing => count == fixed,
            More::Repeated(_) => count >= fixed,
            More::Optional(_) => count == fixed || count == fixed + 1,
        }
    }

    /// The expected column at `index` (within `accepts`).
    fn column(&self, index: usize) -> &Column {
        match (self.columns.get(index), &self.more) {
            (Some(column), _) => column,
            (None, More::Repeated(column) | More::Optional(column)) => column,
            (None, More::Nothing) => unreachable!("column {index} of {} is beyond its shape", self.argument),
        }
    }
}

/// The SQL to run for an argument:
/// - a bare, possibly schema-qualified and quoted, relation name (a trailing ';' allowed)
///   becomes `SELECT * FROM name`;
/// - `name(col1, col2, ...)` becomes the SELECT of those columns in that order, each
///   identifier parsed and quoted anew, so no text of the argument reaches the SQL as it is;
/// - anything else is taken as a query.
///
/// A `name(...)` whose list is not identifiers is 22023, unless the name is a word that
/// starts a query (`VALUES(1, now(), 2)` is a query).
pub fn query_text(query_or_relation: &str) -> Result<String, Error> {
    let trimmed = query_or_relation.trim();
    let name = trimmed.trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    if is_qualified_name(name) {
        return Ok(format!("SELECT * FROM {name}"));
    }
    match columns_of_relation(name) {
        Some(select) => select,
        None => Ok(trimmed.to_string()),
    }
}

/// `name`, `schema.name`, `"Quoted ""name"""`, ...: identifiers joined by dots, nothing else.
pub fn is_qualified_name(text: &str) -> bool {
    qualified_name(text).is_some()
}

/// The identifier at the start of `text` as Postgres reads it (a quoted one unquoted, a bare
/// one with ASCII letters in lower case), and the text after it.
fn identifier(text: &str) -> Option<(String, &str)> {
    let mut chars = text.char_indices().peekable();
    match chars.next()? {
        (_, '"') => {
            let mut name = String::new();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' if chars.peek().map(|&(_, c)| c) == Some('"') => {
                        chars.next();
                        name.push('"');
                    }
                    '"' => return (!name.is_empty()).then(|| (name, &text[i + 1..])),
                    c => name.push(c),
                }
            }
            None
        }
        (_, c) if c.is_alphabetic() || c == '_' => {
            let end = text
                .char_indices()
                .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .map_or(text.len(), |(i, _)| i);
            Some((text[..end].to_ascii_lowercase(), &text[end..]))
        }
        _ => None,
    }
}

/// The parts of the qualified name at the start of `text`, and the text after it.
fn qualified_name_prefix(text: &str) -> Option<(Vec<String>, &str)> {
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let (part, after) = identifier(rest)?;
        parts.push(part);
        match after.strip_prefix('.') {
            Some(next) => rest = next,
            None => return Some((parts, after)),
        }
    }
}

/// The parts of a qualified name that is the whole of `text`.
fn qualified_name(text: &str) -> Option<Vec<String>> {
    qualified_name_prefix(text).and_then(|(parts, rest)| rest.is_empty().then_some(parts))
}

/// An identifier quoted for SQL, as quote_ident quotes it always.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `name(col1, col2, ...)` as `SELECT "col1", "col2" FROM "name"`; None when the text is
/// not a name followed by a parenthesised list.
fn columns_of_relation(text: &str) -> Option<Result<String, Error>> {
    let (relation, rest) = qualified_name_prefix(text)?;
    let list = rest.trim_start().strip_prefix('(')?.strip_suffix(')')?;
    let starts_query = ["select", "values", "with", "table"];
    if relation.len() == 1 && !text.starts_with('"') && starts_query.contains(&relation[0].as_str()) {
        return None;
    }
    let malformed = || {
        Error::invalid_parameter(format!(
            "\"{text}\" is not table_name(column, ...): expected a table or view name and a list of \
             one or more column names separated by commas"
        ))
    };
    let mut columns = Vec::new();
    let mut rest = list.trim_start();
    loop {
        let Some((column, after)) = identifier(rest) else { return Some(Err(malformed())) };
        columns.push(quoted(&column));
        let after = after.trim_start();
        match after.strip_prefix(',') {
            Some(next) => rest = next.trim_start(),
            None if after.is_empty() => break,
            None => return Some(Err(malformed())),
        }
    }
    let relation: Vec<String> = relation.iter().map(|part| quoted(part)).collect();
    Some(Ok(format!("SELECT {} FROM {}", columns.join(", "), relation.join("."))))
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
    Float8Array,
    Bool,
    /// Any other type, through its output function (keys only).
    Output(pg_sys::Oid),
}

impl Reader {
    fn for_column(kind: Kind, type_oid: pg_sys::Oid) -> Option<Reader> {
        use BuiltinOid::*;
        // SAFETY: a catalog lookup of a type oid the executor reported; raises (does not crash) on an unknown one.
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
            Some(FLOAT8ARRAYOID) => Reader::Float8Array,
            Some(BOOLOID) => Reader::Bool,
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
        let is_number = matches!(
            reader,
            Reader::Int2 | Reader::Int4 | Reader::Int8 | Reader::Float4 | Reader::Float8 | Reader::Numeric
        );
        let accepted = match kind {
            Kind::Key => true,
            Kind::Text => matches!(reader, Reader::Varlena | Reader::Bpchar | Reader::Name),
            Kind::Path => {
                matches!(reader, Reader::Varlena | Reader::Bpchar | Reader::Name | Reader::TextArray)
            }
            Kind::Number => is_number,
            Kind::Timestamp => matches!(reader, Reader::TimestampTz | Reader::Timestamp | Reader::Date),
            Kind::Feature => is_number || matches!(reader, Reader::Float8Array),
            Kind::Boolean => matches!(reader, Reader::Bool),
            Kind::Label => matches!(reader, Reader::Bool | Reader::Int2 | Reader::Int4 | Reader::Int8),
        };
        if !accepted {
            return None;
        }
        match reader {
            Reader::Output(oid) => {
                let mut output_function = pg_sys::Oid::INVALID;
                let mut is_varlena = false;
                // SAFETY: writes the two out-parameters, which live on this frame.
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
    /// The database encoding is UTF-8.
    utf8: bool,
    readers: &'r [Reader],
    names: &'r [String],
    /// The executor's slot; columns are deformed as they are first read (`datum`), so a
    /// row dropped on its first columns never has its later ones taken apart.
    slot: *mut pg_sys::TupleTableSlot,
}

/// A column's value as text: borrowed from the row where possible; integer keys are
/// formatted on the stack, so reading them allocates nothing.
pub enum Text<'a> {
    Borrowed(&'a str),
    Owned(String),
    /// The decimal digits (and sign) of an integer, and how many bytes they take.
    Integer([u8; 20], u8),
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Owned(s) => s,
            // SAFETY: the bytes are the ASCII digits itoa wrote (see `integer`).
            Text::Integer(bytes, len) => unsafe { std::str::from_utf8_unchecked(&bytes[..*len as usize]) },
        }
    }
}

impl<'a> From<Cow<'a, str>> for Text<'a> {
    fn from(text: Cow<'a, str>) -> Self {
        match text {
            Cow::Borrowed(s) => Text::Borrowed(s),
            Cow::Owned(s) => Text::Owned(s),
        }
    }
}

/// A Key column's value: integers as they are, anything else as text.
pub enum KeyValue<'a> {
    Integer(i64),
    Text(Text<'a>),
}

impl KeyValue<'_> {
    pub fn as_key(&self) -> Key<'_> {
        match self {
            KeyValue::Integer(value) => Key::Integer(*value),
            KeyValue::Text(text) => Key::Text(text),
        }
    }
}

impl Row<'_> {
    /// How many columns the query returned.
    /// The name of the query-text argument the row comes from, for messages.
    pub fn argument(&self) -> &'static str {
        self.shape.argument
    }

    pub fn column_count(&self) -> usize {
        self.readers.len()
    }

    /// Column `index`'s datum; NULL is None.
    #[inline]
    fn datum(&self, index: usize) -> Option<pg_sys::Datum> {
        assert!(index < self.readers.len(), "no such column");
        // SAFETY: the slot holds the current row for as long as the visit lasts, and
        // `deform` makes column `index` valid.
        unsafe {
            let slot = self.slot;
            if (*slot).tts_nvalid as usize <= index {
                deform(slot, index + 1);
            }
            (!*(*slot).tts_isnull.add(index)).then(|| *(*slot).tts_values.add(index))
        }
    }

    /// The query's name for column `index`.
    pub fn column_name(&self, index: usize) -> &str {
        &self.names[index]
    }

    /// Whether a Feature column is an array.
    pub fn is_array(&self, index: usize) -> bool {
        matches!(self.readers[index], Reader::Float8Array)
    }

    /// An array Feature column as float8s, NULL elements as None; NULL is None. NaN and
    /// infinity raise 22023.
    pub fn numbers(&self, index: usize) -> Option<Vec<Option<f64>>> {
        let datum = self.datum(index)?;
        // SAFETY: the column's reader is Float8Array, so the non-NULL datum is a float8[].
        let values =
            unsafe { Vec::<Option<f64>>::from_polymorphic_datum(datum, false, pg_sys::FLOAT8ARRAYOID) }
                .unwrap_or_default();
        if values.iter().flatten().any(|x| !x.is_finite()) {
            self.unusable_value(index, "NaN or infinite").raise();
        }
        Some(values)
    }

    /// A Boolean column; NULL is None.
    pub fn boolean(&self, index: usize) -> Option<bool> {
        let datum = self.datum(index)?;
        Some(datum.value() != 0)
    }

    /// A Label column; NULL is None. An integer other than 0 and 1 raises 22023.
    pub fn label(&self, index: usize) -> Option<bool> {
        let datum = self.datum(index)?;
        let integer = match self.readers[index] {
            Reader::Bool => return Some(datum.value() != 0),
            Reader::Int2 => i64::from(datum.value() as i16),
            Reader::Int4 => i64::from(datum.value() as i32),
            _ => datum.value() as i64,
        };
        match integer {
            0 => Some(false),
            1 => Some(true),
            other => self
                .unusable_value(index, &format!("{other}, but a label must be 0 or 1"))
                .with_hint("pass a boolean, or an integer 1 for the positive class and 0 for the other")
                .raise(),
        }
    }

    /// A Key column; NULL is None.
    pub fn key(&self, index: usize) -> Option<KeyValue<'_>> {
        let datum = self.datum(index)?;
        Some(match self.readers[index] {
            Reader::Int2 => KeyValue::Integer((datum.value() as i16).into()),
            Reader::Int4 => KeyValue::Integer((datum.value() as i32).into()),
            Reader::Int8 => KeyValue::Integer(datum.value() as i64),
            _ => KeyValue::Text(self.text(index)?),
        })
    }

    /// A Key or Text column as text; NULL is None.
    pub fn text(&self, index: usize) -> Option<Text<'_>> {
        let datum = self.datum(index)?;
        let integer = |value: i64| {
            let mut buffer = itoa::Buffer::new();
            let digits = buffer.format(value).as_bytes();
            let mut bytes = [0u8; 20];
            bytes[..digits.len()].copy_from_slice(digits);
            Text::Integer(bytes, digits.len() as u8)
        };
        // SAFETY: each arm reads the datum as the type its reader was chosen for.
        Some(unsafe {
            match self.readers[index] {
                Reader::Varlena => varlena_text(datum, self.utf8).into(),
                Reader::Bpchar => match varlena_text(datum, self.utf8) {
                    Cow::Borrowed(s) => Text::Borrowed(s.trim_end_matches(' ')),
                    Cow::Owned(s) => Text::Owned(s.trim_end_matches(' ').to_string()),
                },
                Reader::Name => {
                    CStr::from_ptr(datum.cast_mut_ptr::<std::ffi::c_char>()).to_string_lossy().into()
                }
                Reader::Int2 => integer((datum.value() as i16).into()),
                Reader::Int4 => integer((datum.value() as i32).into()),
                Reader::Int8 => integer(datum.value() as i64),
                Reader::Output(function) => {
                    let cstring = pg_sys::OidOutputFunctionCall(function, datum);
                    let text = CStr::from_ptr(cstring).to_string_lossy().into_owned();
                    pg_sys::pfree(cstring.cast());
                    Text::Owned(text)
                }
                _ => unreachable!("column {index} of {} is not a text column", self.shape.argument),
            }
        })
    }

    /// A Path column as names: array elements (NULLs skipped), or the text split on
    /// `separator` with blanks trimmed. NULL is None.
    pub fn path(&self, index: usize, separator: &str) -> Option<Vec<String>> {
        let datum = self.datum(index)?;
        match self.readers[index] {
            Reader::TextArray => {
                // SAFETY: the column's reader is TextArray, so the non-NULL datum is a text[] or varchar[].
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
        let datum = self.datum(index)?;
        // SAFETY: each arm reads the datum as the type its reader was chosen for.
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
            self.unusable_value(index, "NaN or infinite").raise();
        }
        Some(value)
    }

    /// A Timestamp column as microseconds since 2000-01-01 00:00 UTC (Postgres' timestamptz);
    /// NULL is None. -infinity and infinity raise 22023.
    pub fn timestamp(&self, index: usize) -> Option<i64> {
        let datum = self.datum(index)?;
        // SAFETY: the conversion functions take the datum of the type the reader was chosen for.
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
            self.unusable_value(index, "infinite").raise();
        }
        Some(micros)
    }

    /// 22023 naming the column and the row's key; the hint is for non-finite values.
    fn unusable_value(&self, index: usize, what: &str) -> Error {
        let column = self.shape.column(index);
        let context = match self.shape.columns[0].kind {
            Kind::Key | Kind::Text if index != 0 => match self.text(0) {
                Some(first) => format!(" (row with {} '{}')", self.shape.columns[0].name, &*first),
                None => String::new(),
            },
            _ => String::new(),
        };
        Error::invalid_parameter(format!(
            "{}: column {} ({}) is {what}{context}",
            self.shape.argument,
            index + 1,
            if index < self.shape.columns.len() { column.name } else { &self.names[index] }
        ))
        .with_hint("pg_marketing needs finite values; filter such rows out or replace them in the query")
    }
}

/// Makes the slot's first `columns` columns valid.
///
/// The slot type's own deform is called directly: it is what slot_getsomeattrs_int calls,
/// without the FFI guard (a sigsetjmp) that pgrx puts around every pg_sys call, which costs
/// more than the deform of a few columns. Deforming a tuple raises no error on valid data,
/// and nothing here needs unwinding if it did.
unsafe fn deform(slot: *mut pg_sys::TupleTableSlot, columns: usize) {
    match (*(*slot).tts_ops).getsomeattrs {
        Some(getsomeattrs) => getsomeattrs(slot, columns as i32),
        None => pg_sys::slot_getsomeattrs_int(slot, columns as i32),
    }
    // Columns missing from an older tuple (added by ALTER TABLE) take their defaults there.
    if ((*slot).tts_nvalid as usize) < columns {
        pg_sys::slot_getsomeattrs_int(slot, columns as i32);
    }
}

unsafe fn varlena_text<'a>(datum: pg_sys::Datum, utf8: bool) -> Cow<'a, str> {
    let mut varlena: *mut pg_sys::varlena = datum.cast_mut_ptr();
    // Only compressed or out-of-line values need detoasting; short and plain ones are read in place.
    if pgrx::varlena::varatt_is_1b_e(varlena) || pgrx::varlena::varatt_is_4b_c(varlena) {
        varlena = pg_sys::pg_detoast_datum_packed(varlena);
    }
    let bytes = std::slice::from_raw_parts(
        pgrx::varlena::vardata_any(varlena) as *const u8,
        pgrx::varlena::varsize_any_exhdr(varlena),
    );
    // Postgres keeps text valid in the database encoding: UTF-8 needs no check.
    if utf8 {
        Cow::Borrowed(std::str::from_utf8_unchecked(bytes))
    } else {
        String::from_utf8_lossy(bytes)
    }
}

/// Checks the result's columns against the shape and picks a reader for each.
unsafe fn readers_for(shape: &Shape, tupdesc: pg_sys::TupleDesc) -> Result<Vec<Reader>, Error> {
    let natts = (*tupdesc).natts as usize;
    if !shape.accepts(natts) {
        let expected = match shape.more {
            More::Nothing => format!("{} are", shape.columns.len()),
            More::Repeated(_) => format!("at least {} are", shape.columns.len()),
            More::Optional(_) => format!("{} or {} are", shape.columns.len(), shape.columns.len() + 1),
        };
        return Err(Error::datatype_mismatch(format!(
            "{}: the query returns {} column{}, but {expected} expected: {}",
            shape.argument,
            natts,
            if natts == 1 { "" } else { "s" },
            shape.describe()
        ))
        .with_hint(
            "columns are read by position: select exactly these columns in this order, or name a table's \
             columns as table_name(column, ...)",
        ));
    }
    (0..natts)
        .map(|i| {
            let column = shape.column(i);
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
        Kind::Feature => "float8",
        Kind::Boolean | Kind::Label => "boolean",
    }
}

/// Runs `query_or_relation` and calls `visit` for each row, in the query's order.
///
/// The text must be one statement (42601 otherwise). It runs under the caller's privileges
/// in a read-only state: the transaction is marked read-only while it runs, so any write,
/// however nested (a data-modifying CTE, SELECT ... FOR UPDATE, a volatile function that
/// writes), fails with Postgres' own 25006; settings it changes (set_config) are rolled
/// back when it ends. As in any read-only transaction, the session's own temporary tables
/// stay writable.
///
/// The executor hands each row to a DestReceiver that reads it in place: no copy of the
/// result is made. Memory that reading allocates (detoasted values, output functions) is
/// freed every BATCH_ROWS rows, when interrupts (cancel, statement_timeout) and the memory
/// budget are checked.
pub fn for_each_row(shape: &Shape, query_or_relation: &str, mut visit: impl FnMut(&Row)) {
    let query = std::ffi::CString::new(query_text(query_or_relation).unwrap_or_else(|e| e.raise()))
        .unwrap_or_else(|_| {
            Error::invalid_parameter(format!("{}: the query contains a zero byte", shape.argument)).raise()
        });
    require_one_statement(shape, &query);
    crate::memory::start_counting();
    let mut receiver = Receiver {
        base: pg_sys::DestReceiver {
            receiveSlot: Some(receive_slot),
            rStartup: Some(startup),
            rShutdown: Some(ignore),
            rDestroy: Some(ignore),
            mydest: pg_sys::CommandDest::DestNone,
        },
        shape,
        readers: Vec::new(),
        // SAFETY: reads a backend global.
        utf8: unsafe { pg_sys::GetDatabaseEncoding() } == pg_sys::pg_enc::PG_UTF8 as i32,
        names: Vec::new(),
        visit: &mut visit,
        batch_memory: PgMemoryContexts::new("pg_marketing input batch"),
        rows_in_batch: 0,
    };
    // dropped before the receiver, which owns (and deletes) the batch context
    // SAFETY: reads the backend's current memory context.
    let _context =
        ContextGuard { outer: unsafe { pg_sys::CurrentMemoryContext }, batch: receiver.batch_memory.value() };
    // SAFETY: the pointer is taken from the whole Receiver (whose first field, repr(C), is
    // the DestReceiver Postgres sees), so the callbacks may cast it back to a Receiver.
    let dest: *mut Receiver = &mut receiver;
    Spi::connect(|_client| {
        let options = pg_sys::SPIExecuteOptions {
            // Not SPI's read_only: it refuses FOR UPDATE and writing CTEs with a misleading
            // 0A000 and lets volatile functions write. The read-only transaction refuses all.
            read_only: false,
            must_return_tuples: true,
            dest: dest.cast(),
            ..Default::default()
        };
        let _read_only = ReadOnlyTransaction::enter();
        // SAFETY: a GUC nest level opened here is closed below, or by the (sub)transaction
        // abort that an error in the query leads to.
        let settings = unsafe { pg_sys::NewGUCNestLevel() };
        // SAFETY: SPI is connected; the receiver outlives the call.
        let status = unsafe { pg_sys::SPI_execute_extended(query.as_ptr(), &options) };
        unsafe { pg_sys::AtEOXact_GUC(false, settings) };
        if status < 0 {
            Error::invalid_parameter(format!(
                "{}: the query could not run (SPI status {status})",
                shape.argument
            ))
            .raise();
        }
    });
}

/// 42601 unless `query` is exactly one statement: several would each run and their rows
/// be read as one result.
fn require_one_statement(shape: &Shape, query: &CStr) {
    // SAFETY: the raw parser reads a NUL-terminated string and allocates in the current
    // memory context; a syntax error raises the parser's own 42601.
    let statements = unsafe { pg_sys::pg_parse_query(query.as_ptr()) };
    // SAFETY: a non-NULL List the parser returned.
    let count = if statements.is_null() { 0 } else { unsafe { (*statements).length } };
    if count != 1 {
        let problem = if count == 0 { "is empty".to_string() } else { format!("has {count} statements") };
        Error::new(
            ErrorKind::Syntax,
            format!("{}: the query {problem}, but exactly one is expected", shape.argument),
        )
        .with_hint("pass one SELECT, or a table or view name")
        .raise();
    }
}

/// Marks the transaction read-only for as long as it lives (XactReadOnly is what every
/// write checks), restoring the previous state on drop, also when an error unwinds.
struct ReadOnlyTransaction(bool);

impl ReadOnlyTransaction {
    fn enter() -> Self {
        // SAFETY: a plain global of the backend, read and written on its only thread.
        unsafe {
            let previous = pg_sys::XactReadOnly;
            pg_sys::XactReadOnly = true;
            ReadOnlyTransaction(previous)
        }
    }
}

impl Drop for ReadOnlyTransaction {
    fn drop(&mut self) {
        // SAFETY: as in `enter`.
        unsafe { pg_sys::XactReadOnly = self.0 };
    }
}

/// A DestReceiver (its C part first, as Postgres casts between the two) with what
/// reading needs.
#[repr(C)]
struct Receiver<'a> {
    base: pg_sys::DestReceiver,
    shape: &'a Shape,
    readers: Vec<Reader>,
    /// The query's column names.
    names: Vec<String>,
    utf8: bool,
    visit: &'a mut dyn FnMut(&Row),
    batch_memory: PgMemoryContexts,
    rows_in_batch: i64,
}

#[pg_guard]
unsafe extern "C-unwind" fn startup(
    receiver: *mut pg_sys::DestReceiver,
    _operation: i32,
    typeinfo: pg_sys::TupleDesc,
) {
    let receiver = &mut *(receiver as *mut Receiver);
    receiver.readers = readers_for(receiver.shape, typeinfo).or_raise();
    let natts = (*typeinfo).natts as usize;
    receiver.names = (*typeinfo)
        .attrs
        .as_slice(natts)
        .iter()
        .map(|attribute| CStr::from_ptr(attribute.attname.data.as_ptr()).to_string_lossy().into_owned())
        .collect();
}

#[pg_guard]
unsafe extern "C-unwind" fn receive_slot(
    slot: *mut pg_sys::TupleTableSlot,
    receiver: *mut pg_sys::DestReceiver,
) -> bool {
    let receiver = &mut *(receiver as *mut Receiver);
    let Receiver { shape, readers, names, utf8, visit, batch_memory, .. } = receiver;
    // Switched by hand (PgMemoryContexts::switch_to costs more per row than the reading of
    // a dropped row); for_each_row's ContextGuard switches back when `visit` does not return.
    let previous = pg_sys::CurrentMemoryContext;
    pg_sys::CurrentMemoryContext = batch_memory.value();
    visit(&Row { shape, utf8: *utf8, readers, names, slot });
    pg_sys::CurrentMemoryContext = previous;
    receiver.rows_in_batch += 1;
    if receiver.rows_in_batch == BATCH_ROWS {
        receiver.rows_in_batch = 0;
        receiver.batch_memory.reset();
        crate::interrupt();
    }
    true
}

/// Leaves the memory context that was current before reading began current, if the batch
/// context is still current when reading ends: a row that raised (a panic unwinding, or a
/// Postgres ERROR's longjmp out of the allocator, which skips receive_slot's own switch
/// back) would otherwise leave current a context that is deleted as for_each_row returns.
struct ContextGuard {
    outer: pg_sys::MemoryContext,
    batch: pg_sys::MemoryContext,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        // SAFETY: `outer` was current when reading began and outlives it.
        unsafe {
            if pg_sys::CurrentMemoryContext == self.batch {
                pg_sys::CurrentMemoryContext = self.outer;
            }
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn ignore(_receiver: *mut pg_sys::DestReceiver) {}

#[cfg(test)]
mod unit_tests {
    use super::*;

    fn text_of(argument: &str) -> String {
        query_text(argument).unwrap()
    }

    #[test]
    fn bare_names_become_select_star() {
        assert_eq!(text_of("touchpoints"), "SELECT * FROM touchpoints");
        assert_eq!(text_of("  mkt.touchpoints \n"), "SELECT * FROM mkt.touchpoints");
        assert_eq!(
            text_of(r#""My Schema"."Touch ""points""""#),
            r#"SELECT * FROM "My Schema"."Touch ""points""""#
        );
        assert_eq!(text_of("t_2$x"), "SELECT * FROM t_2$x");
        assert_eq!(text_of(r#""Touch;points" ; "#), r#"SELECT * FROM "Touch;points""#);
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
            "t; DELETE FROM t",
            "1abc",
            "",
            "VALUES (1, now(), 2)",
            "values(1, now(), 2)",
            "select(1)",
            "t(a, b); DELETE FROM t",
            "t(a) WHERE true",
        ] {
            assert_eq!(text_of(query), query.trim(), "{query:?}");
        }
    }

    #[test]
    fn named_columns_are_selected_with_every_identifier_quoted_anew() {
        assert_eq!(
            text_of("touchpoints(customer_id, ts, channel)"),
            r#"SELECT "customer_id", "ts", "channel" FROM "touchpoints""#
        );
        // bare names fold to lower case as Postgres folds them; quoted ones keep theirs
        assert_eq!(
            text_of(r#" Mkt."Touch ""Points""" (Customer_ID ,"Ts" , "a""b"); "#),
            r#"SELECT "customer_id", "Ts", "a""b" FROM "mkt"."Touch ""Points""""#
        );
        // what looks like SQL inside a quoted identifier stays an identifier
        assert_eq!(
            text_of(r#"t("x"" FROM pg_authid; --", y)"#),
            r#"SELECT "x"" FROM pg_authid; --", "y" FROM "t""#
        );
        assert_eq!(text_of(r#""select"(a)"#), r#"SELECT "a" FROM "select""#);
        assert_eq!(text_of(r#""we(ird"(a)"#), r#"SELECT "a" FROM "we(ird""#);
    }

    #[test]
    fn a_malformed_column_list_is_refused() {
        for argument in
            ["t()", "t( )", "t(a,)", "t(,a)", "t(a b)", "t(a, 1)", "t(a, b) ", "t(\"\")", "t(a.b)", "t(*)"]
        {
            // "t(a, b) " ends in ')' once trimmed: a list, and a valid one
            if argument == "t(a, b) " {
                assert!(query_text(argument).is_ok());
                continue;
            }
            let error = query_text(argument).expect_err(argument);
            assert_eq!(error.kind, crate::error::ErrorKind::InvalidParameter, "{argument}");
            assert!(error.message.contains("table_name(column, ...)"), "{}", error.message);
        }
    }
}
