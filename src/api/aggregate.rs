//! What the aggregates with an `internal` state share: making the state in the aggregate's
//! memory context and finding it again.

use pgrx::{pg_sys, Internal, PgMemoryContexts};

use crate::error::{Error, OrRaise, Result};

/// The state behind an `internal` argument, None before the group's first row.
///
/// # Safety
/// Every internal value the aggregate's functions receive must have been made by
/// `new_state` with a `T` of this type.
pub unsafe fn state_of<T>(state: &mut Internal) -> Option<&mut T> {
    // SAFETY: the caller guarantees the type.
    unsafe { state.get_mut::<T>() }
}

/// A state that another group's partial state merges into (combine functions).
pub trait Mergeable: Clone {
    fn merge_from(&mut self, other: &Self) -> Result<()>;
}

impl Mergeable for crate::core::decay::DecayState {
    fn merge_from(&mut self, other: &Self) -> Result<()> {
        self.merge(other)
    }
}

impl Mergeable for crate::core::events::funnel::FunnelState {
    fn merge_from(&mut self, other: &Self) -> Result<()> {
        self.merge(other)
    }
}

/// The combine function of an aggregate whose state is a `T`: `right` merged into `left`,
/// either side possibly without a state yet.
///
/// # Safety
/// As `state_of`: both internal values were made by `new_state` with a `T`.
pub unsafe fn combine<T: Mergeable>(
    mut left: Internal,
    mut right: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    aggregate: &str,
) -> Internal {
    // SAFETY: the caller guarantees the type of both.
    let right = unsafe { state_of::<T>(&mut right) }.cloned();
    // SAFETY: as above.
    match (unsafe { state_of::<T>(&mut left) }, right) {
        (_, None) => left,
        (None, Some(right)) => new_state(fcinfo, aggregate, right),
        (Some(current), Some(right)) => {
            current.merge_from(&right).or_raise();
            left
        }
    }
}

/// Stores a state in the aggregate's memory context, where it lives as long as the group.
/// Called outside an aggregate (`aggregate`'s support functions called directly), 22023.
/// Each new group checks the memory budget: a state's own size is bounded, their number is
/// the number of groups. (Postgres drops the state, and what it owns, with the context.)
pub fn new_state<T>(fcinfo: pg_sys::FunctionCallInfo, aggregate: &str, state: T) -> Internal {
    crate::memory::check();
    let mut context = std::ptr::null_mut();
    // SAFETY: fcinfo is the one Postgres passed to this call.
    if unsafe { pg_sys::AggCheckCallContext(fcinfo, &mut context) } == 0 {
        Error::invalid_parameter(format!(
            "{aggregate}'s support functions can only be called by the aggregate"
        ))
        .raise();
    }
    // SAFETY: the aggregate context outlives the group's state, which is allocated in it.
    unsafe { PgMemoryContexts::For(context).switch_to(|_| Internal::new(state)) }
}
