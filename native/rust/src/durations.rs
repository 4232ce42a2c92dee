//! A pool's record of task durations (native/README.md, "pool.stats()"): a fixed log-scale
//! histogram, four buckets per power of two of nanoseconds, so a quantile read from it is within
//! 25% of the true value; the exact maximum is kept aside. No allocation: recording is an index
//! computation and an increment, under the pool's lock. The C++ twin is `durations.h`.

/// 2^SUB_BITS buckets per power of two.
const SUB_BITS: u32 = 2;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = 64 * SUB as usize;

#[derive(Clone)]
pub struct DurationLog {
    counts: [u64; BUCKETS],
    count: u64,
    max: u64,
}

impl Default for DurationLog {
    fn default() -> Self {
        DurationLog {
            counts: [0; BUCKETS],
            count: 0,
            max: 0,
        }
    }
}

impl DurationLog {
    pub fn record(&mut self, ns: u64) {
        self.counts[bucket(ns)] += 1;
        self.count += 1;
        self.max = self.max.max(ns);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// Nearest rank: the upper bound of the bucket holding the ⌈q·count⌉-th value, never above
    /// the maximum, so p50 ≤ p99 ≤ max. 0 when nothing was recorded.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return upper_bound(i).min(self.max);
            }
        }
        self.max
    }
}

/// Values below SUB have a bucket each; above, [2^e, 2^(e+1)) splits into SUB buckets.
fn bucket(ns: u64) -> usize {
    if ns < SUB {
        return ns as usize;
    }
    let e = 63 - ns.leading_zeros();
    let sub = (ns >> (e - SUB_BITS)) & (SUB - 1);
    ((e - SUB_BITS + 1) as u64 * SUB + sub) as usize
}

fn upper_bound(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < SUB {
        return bucket;
    }
    let shift = bucket / SUB - 1; // e - SUB_BITS
    let mantissa = SUB + bucket % SUB + 1;
    if shift >= u64::from(64 - SUB_BITS - 1) {
        return u64::MAX;
    }
    (mantissa << shift) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_values_within_a_quarter() {
        for ns in 0..100_000u64 {
            let b = bucket(ns);
            assert!(upper_bound(b) >= ns && upper_bound(b) - ns <= ns / 4, "{ns}");
            assert!(b == 0 || upper_bound(b - 1) < ns, "{ns}");
        }
        for ns in [u64::MAX / 3, u64::MAX - 1, u64::MAX] {
            assert!(bucket(ns) < BUCKETS && upper_bound(bucket(ns)) >= ns, "{ns}");
        }
    }

    #[test]
    fn quantiles_are_ordered_and_capped_by_the_maximum() {
        let mut log = DurationLog::default();
        assert_eq!((log.quantile(0.5), log.max()), (0, 0));
        for ns in 1..=1000 {
            log.record(ns * 1000);
        }
        let (p50, p99, max) = (log.quantile(0.5), log.quantile(0.99), log.max());
        assert!(p50 <= p99 && p99 <= max);
        assert!((500_000..=625_000).contains(&p50), "{p50}");
        assert_eq!((log.count(), max), (1000, 1_000_000));
    }
}
