//! Block the calling thread for a while: the stand-in for blocking I/O.

use super::{Stop, cancelled};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// The longest single nap, so the cancel flag is looked at least this often.
const SLICE: Duration = Duration::from_millis(1);

/// Sleep `ms` milliseconds in slices of at most 1 ms, returning early with `Stop::Cancelled`
/// once `cancel` is set.
pub fn sleep(ms: u32, cancel: &AtomicBool) -> Result<(), Stop> {
    let deadline = Instant::now() + Duration::from_millis(ms as u64);
    loop {
        if cancelled(cancel) {
            return Err(Stop::Cancelled);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        std::thread::sleep((deadline - now).min(SLICE));
    }
}
