//! Failpoints at the steps of multi-step commits, for crash tests: with the `failpoints`
//! feature, a test names a point (`fail::cfg`) to make the step fail there or to run a callback
//! that takes a power-loss image of the engine's storage at that instant. Without the feature
//! a failpoint compiles to nothing.
//!
//! The points, in the order a pass and a checkpoint reach them: `warm-cut`, `warm-uploaded`
//! (after each file of a flush), `warm-committed`, `rollup-committed`, `merge-committed`,
//! `retention-committed`, `files-deleted`, `hot-evicted`, `series-retired`,
//! `checkpoint-written`, `wal-segments-removed`.

use crate::error::Error;

/// Passes unless a test configured `name` to fail (`fail::cfg(name, "return")`).
#[cfg(feature = "failpoints")]
pub(crate) fn failpoint(name: &'static str) -> Result<(), Error> {
    fail::fail_point!(name, |_| Err(Error::Failpoint { name }));
    Ok(())
}

/// Without the `failpoints` feature: always passes.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn failpoint(_name: &'static str) -> Result<(), Error> {
    Ok(())
}
