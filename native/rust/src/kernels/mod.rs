//! The computations themselves: pure Rust, no Node-API, no JS values.
//!
//! Every long-running kernel takes the cancel flag and polls it (relaxed loads are enough: the
//! flag is a hint to stop early, it publishes no other data) at the cadence the contract gives —
//! primes every segment, pbkdf2 every 256 iterations, blur every row, sleep at least every
//! millisecond — and returns [`Stop::Cancelled`] when it sees it set.

pub mod blur;
pub mod pbkdf2;
pub mod primes;
pub mod sha256;
pub mod sleep;

use std::sync::atomic::{AtomicBool, Ordering};

/// Why a kernel returned without a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The cancel flag was seen set.
    Cancelled,
    /// An allocation of this many bytes failed.
    OutOfMemory { what: &'static str, bytes: usize },
}

#[inline(always)]
pub(crate) fn cancelled(flag: &AtomicBool) -> bool {
    flag.load(Ordering::Relaxed)
}

/// A zero-filled byte buffer of exactly `bytes` bytes (capacity == length), or
/// `Stop::OutOfMemory` instead of aborting the process. Uses `alloc_zeroed` (calloc), so a large
/// buffer comes as fresh zero pages rather than being memset first.
pub(crate) fn try_zeroed(bytes: usize, what: &'static str) -> Result<Vec<u8>, Stop> {
    if bytes == 0 {
        return Ok(Vec::new());
    }
    let oom = Stop::OutOfMemory { what, bytes };
    let layout = std::alloc::Layout::array::<u8>(bytes).map_err(|_| oom.clone())?;
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return Err(oom);
    }
    // SAFETY: `ptr` comes from the global allocator with the layout of `[u8; bytes]`, and all
    // `bytes` bytes are initialised (zero).
    Ok(unsafe { Vec::from_raw_parts(ptr, bytes, bytes) })
}
