//! Models are jsonb values that scalar functions take once per row. Parsing one per row
//! would cost more than the scoring, so each call site keeps the parsed model in fn_extra
//! and parses again only when the model's bytes change.

use std::ffi::CStr;

use pgrx::callconv::{Arg, ArgAbi};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

use crate::error::{Error, OrRaise};

/// A jsonb argument kept as its datum: unlike pgrx's JsonB, nothing is converted until
/// the cache needs it.
pub struct JsonbDatum(pg_sys::Datum);

impl FromDatum for JsonbDatum {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _type_oid: pg_sys::Oid,
    ) -> Option<Self> {
        (!is_null).then_some(JsonbDatum(datum))
    }
}

unsafe impl<'fcx> ArgAbi<'fcx> for JsonbDatum {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the argument is declared jsonb, which from_polymorphic_datum keeps as its datum.
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

pgrx::impl_sql_translatable!(JsonbDatum, arg_only = "jsonb");

impl JsonbDatum {
    /// The jsonb as text, for a parser of our own: pgrx's JsonB goes through serde_json's
    /// Value and fails (XX000) on numbers beyond float8, such as 1e999.
    pub fn text(&self) -> String {
        // SAFETY: the datum is a non-NULL jsonb for the duration of the call.
        unsafe {
            let text = pgrx::direct_function_call_as_datum(pg_sys::jsonb_out, &[Some(self.0)])
                .expect("jsonb_out returns text for a jsonb value");
            CStr::from_ptr(text.cast_mut_ptr()).to_string_lossy().into_owned()
        }
    }
}

struct Cached<T> {
    /// The model's datum as passed (see `identity`).
    bytes: Vec<u8>,
    value: T,
}

/// Bytes that equal only for equal models: the datum as passed, without detoasting. A
/// model read from a table is usually compressed or stored out of line (it exceeds 2 kB);
/// detoasting it for every row would cost more than scoring. Equal compressed bytes hold
/// equal values, and an on-disk TOAST pointer names a value that TOAST never changes in
/// place. Other out-of-line pointers (indirect, expanded) point into memory that may
/// change, so their values are detoasted and compared.
unsafe fn identity<'a>(varlena: *mut pg_sys::varlena) -> &'a [u8] {
    let on_disk = pgrx::varlena::varatt_is_1b_e(varlena)
        && *(varlena as *const u8).add(1) == pg_sys::vartag_external::VARTAG_ONDISK as u8;
    if on_disk || !pgrx::varlena::varatt_is_1b_e(varlena) {
        std::slice::from_raw_parts(varlena as *const u8, pgrx::varlena::varsize_any(varlena))
    } else {
        let detoasted = pg_sys::pg_detoast_datum_packed(varlena);
        std::slice::from_raw_parts(detoasted as *const u8, pgrx::varlena::varsize_any(detoasted))
    }
}

/// Calls `with` on the parsed model of `model` at this call site: from fn_extra when the
/// bytes are the same as last time, else parsed by `parse` (from the jsonb's text) and
/// remembered. The model is lent to `with` only: the next call with another model
/// overwrites it.
pub fn with_cached_model<T: 'static, R>(
    fcinfo: pg_sys::FunctionCallInfo,
    model: &JsonbDatum,
    parse: impl FnOnce(&str) -> Result<T, Error>,
    with: impl FnOnce(&T) -> R,
) -> R {
    // SAFETY: fcinfo and its flinfo come from Postgres for this call; fn_extra is ours at
    // this call site and holds only a Cached<T> (one T per SQL function); it lives in
    // fn_mcxt, which outlives the call. No reference to it outlives `with`, and nothing
    // replaces it while `with` runs (a call site is not re-entered during its own call).
    unsafe {
        let bytes = identity(model.0.cast_mut_ptr());
        let flinfo = (*fcinfo).flinfo;
        let extra = (*flinfo).fn_extra as *mut Cached<T>;
        if !extra.is_null() && (*extra).bytes == bytes {
            return with(&(*extra).value);
        }
        let value = parse(&model.text()).or_raise();
        let cached = Cached { bytes: bytes.to_vec(), value };
        let stored = if extra.is_null() {
            let stored = PgMemoryContexts::For((*flinfo).fn_mcxt).leak_and_drop_on_delete(cached);
            (*flinfo).fn_extra = stored.cast();
            stored
        } else {
            *extra = cached;
            extra
        };
        with(&(*stored).value)
    }
}
