//! Giving freed memory back to the system after a compaction pass.
//!
//! A pass allocates for a moment what its rows and files take (a warm flush of a million
//! series: gigabytes), then frees it. glibc's allocator keeps freed memory inside its heaps for
//! reuse, so the process's resident set stays at the pass's peak until then: measured, 1.6 GB
//! resident after the passes of the churn benchmark with 30 MB in use (docs/BENCHMARKS.md).
//! `malloc_trim` returns the free pages. Other allocators (a global allocator the embedding
//! program chose) are not glibc's heaps: the call then finds little to give back.

#![allow(unsafe_code, reason = "one call into the C library's allocator, which takes no pointer")]

/// Returns the C allocator's free memory to the system (glibc's `malloc_trim(0)`); elsewhere
/// nothing.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes a byte count and works on the allocator's own free lists
    // under each arena's lock; it reads and writes no memory of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}
