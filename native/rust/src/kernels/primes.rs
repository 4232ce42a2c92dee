//! π(limit): the number of primes ≤ limit, by a segmented sieve of Eratosthenes over odd
//! numbers only.
//!
//! Index `i` of the sieve stands for the odd number `2i + 1`; a byte per odd number, 1 while it
//! may be prime, 0 once crossed off. Segments are 32 KiB so they stay in L1. The multiples of
//! the smallest odd primes (3 … 13) are not crossed off one by one: each segment starts as a
//! copy of a precomputed pattern with period 3·5·7·11·13 that already has them removed. The
//! remaining base primes (≤ ⌊√limit⌋ < 65536, at most 6542 of them) are crossed off per
//! segment, each remembering where its next multiple falls. Memory is O(√limit + segment).

use super::{Stop, cancelled};
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

/// Bytes (odd numbers) per segment.
pub const SEGMENT: usize = 32 * 1024;

/// The odd primes folded into the initial pattern.
const PRESIEVE: [u32; 5] = [3, 5, 7, 11, 13];
/// Period of the pattern in index space: the product of `PRESIEVE`.
const PATTERN_PERIOD: usize = 3 * 5 * 7 * 11 * 13;

/// ⌊√n⌋.
pub fn isqrt(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let mut r = (n as f64).sqrt() as u64;
    while r * r > n {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= n {
        r += 1;
    }
    r
}

/// The odd primes ≤ `n` (n < 2^16 in practice), by a plain sieve.
fn odd_primes_up_to(n: usize) -> Vec<u32> {
    if n < 3 {
        return Vec::new();
    }
    let mut composite = vec![false; n + 1];
    let mut out = Vec::new();
    let mut p = 3;
    while p <= n {
        if !composite[p] {
            out.push(p as u32);
            let mut m = p * p;
            while m <= n {
                composite[m] = true;
                m += 2 * p;
            }
        }
        p += 2;
    }
    out
}

/// The number of primes ≤ `limit`.
pub fn count_primes(limit: u32, cancel: &AtomicBool) -> Result<u64, Stop> {
    if limit < 2 {
        return Ok(0);
    }
    let limit = limit as u64;
    // The prime 2, plus the small primes the pattern marks as composite.
    let mut count: u64 = 1 + PRESIEVE.iter().filter(|&&p| (p as u64) <= limit).count() as u64;
    // Odd numbers 1, 3, …, ≤ limit: indices 0 .. odd_count.
    let odd_count = (limit as usize).div_ceil(2);

    let root = isqrt(limit) as usize;
    // Base primes beyond the pattern, with the index of the next odd multiple to cross off,
    // starting at p² (smaller multiples have a smaller prime factor).
    let mut base: Vec<(usize, usize)> = odd_primes_up_to(root)
        .into_iter()
        .filter(|&p| p > PRESIEVE[PRESIEVE.len() - 1])
        .map(|p| (p as usize, (p as usize * p as usize) / 2))
        .collect();

    let pattern = pattern();
    // As long as the largest segment: a small limit needs no more than its own odd numbers.
    let mut segment = vec![0u8; SEGMENT.min(odd_count)];
    let mut lo = 0usize;
    while lo < odd_count {
        if cancelled(cancel) {
            return Err(Stop::Cancelled);
        }
        let len = SEGMENT.min(odd_count - lo);
        let seg = &mut segment[..len];
        let offset = lo % PATTERN_PERIOD;
        seg.copy_from_slice(&pattern[offset..offset + len]);
        if lo == 0 {
            seg[0] = 0; // 1 is not prime
        }
        let hi = lo + len;
        for (p, next) in base.iter_mut() {
            let step = *p;
            if step * step / 2 >= hi {
                // Not started yet, and neither is any larger prime.
                break;
            }
            let mut j = *next;
            if j >= hi {
                continue;
            }
            j -= lo;
            while j < len {
                seg[j] = 0;
                j += step;
            }
            *next = lo + j;
        }
        count += count_ones(seg);
        lo = hi;
    }
    Ok(count)
}

/// pattern[j] = 0 iff 2j+1 is a multiple of one of PRESIEVE; long enough that any segment is one
/// slice of it. Built once per process (as the C++ kernel's function-local static): building it
/// took ~9 µs, which was the whole cost of a small `primesSync`.
fn pattern() -> &'static [u8] {
    static PATTERN: OnceLock<Vec<u8>> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let mut pattern = vec![1u8; PATTERN_PERIOD + SEGMENT];
        for &p in &PRESIEVE {
            let p = p as usize;
            // First odd multiple of p is p itself, at index p/2; then every p indices.
            let mut j = p / 2;
            while j < pattern.len() {
                pattern[j] = 0;
                j += p;
            }
        }
        pattern
    })
}

/// The number of 1 bytes in a slice of 0/1 bytes.
#[inline]
fn count_ones(seg: &[u8]) -> u64 {
    // Sum bytes eight at a time in u64 lanes; a lane can take 255 additions of 0/1 before it
    // could carry into its neighbour, so flush every 255 words.
    let mut total = 0u64;
    let mut chunks = seg.chunks_exact(8 * 255);
    for chunk in &mut chunks {
        total += sum_words(chunk);
    }
    let rest = chunks.remainder();
    let whole = rest.len() / 8 * 8;
    total += sum_words(&rest[..whole]);
    total += rest[whole..].iter().map(|&b| b as u64).sum::<u64>();
    total
}

#[inline]
fn sum_words(bytes: &[u8]) -> u64 {
    let mut acc = 0u64;
    for w in bytes.chunks_exact(8) {
        acc += u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
    }
    // Horizontal sum of the eight byte lanes (each ≤ 255): pairs into 16-bit lanes (≤ 510),
    // then the four 16-bit lanes summed into the top one (≤ 2040).
    let pairs = (acc & 0x00FF_00FF_00FF_00FF) + ((acc >> 8) & 0x00FF_00FF_00FF_00FF);
    pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(n: u32) -> u64 {
        (2..=n)
            .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
            .count() as u64
    }

    #[test]
    fn small_and_known() {
        let never = AtomicBool::new(false);
        for n in (0..2000).chain([65535, 65536, 65537, 131071, 131072, 131073]) {
            assert_eq!(count_primes(n, &never).unwrap(), naive(n), "pi({n})");
        }
        assert_eq!(count_primes(1_000_000, &never).unwrap(), 78498);
        assert_eq!(count_primes(10_000_000, &never).unwrap(), 664579);
    }

    #[test]
    fn isqrt_exact() {
        for n in [0u64, 1, 2, 3, 4, 15, 16, 17, 4294967295, 4294836225, 4294836224] {
            let r = isqrt(n);
            assert!(r * r <= n && (r + 1) * (r + 1) > n, "isqrt({n})");
        }
    }
}
