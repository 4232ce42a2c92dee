// A pool's record of task durations (native/README.md, "pool.stats()"): a fixed log-scale
// histogram, four buckets per power of two of nanoseconds, so a quantile read from it is within
// 25% of the true value; the exact maximum is kept aside. No allocation: recording is an index
// computation and an increment, under the pool's lock. The Rust twin is `durations.rs`.
#ifndef OFFLOOP_DURATIONS_H_
#define OFFLOOP_DURATIONS_H_

#include <cmath>
#include <cstdint>

namespace offloop {
namespace binding {

class DurationLog {
 public:
  void Record(uint64_t ns) {
    ++counts_[Bucket(ns)];
    ++count_;
    if (ns > max_) max_ = ns;
  }

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }

  // Nearest rank: the upper bound of the bucket holding the ⌈q·count⌉-th value, never above
  // the maximum, so p50 ≤ p99 ≤ max. 0 when nothing was recorded.
  uint64_t Quantile(double q) const {
    if (count_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return UpperBound(i) < max_ ? UpperBound(i) : max_;
    }
    return max_;
  }

 private:
  static constexpr int kSubBits = 2;  // 2^kSubBits buckets per power of two
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = 64 * kSub;

  // Values below kSub have a bucket each; above, [2^e, 2^(e+1)) splits into kSub buckets.
  static int Bucket(uint64_t ns) {
    if (ns < kSub) return static_cast<int>(ns);
    int e = 63;
    while ((ns >> e) == 0) --e;
    const int sub = static_cast<int>((ns >> (e - kSubBits)) & (kSub - 1));
    return (e - kSubBits + 1) * kSub + sub;
  }

  static uint64_t UpperBound(int bucket) {
    if (bucket < kSub) return static_cast<uint64_t>(bucket);
    const int shift = bucket / kSub - 1;  // e - kSubBits
    const uint64_t mantissa = static_cast<uint64_t>(kSub + bucket % kSub + 1);
    if (shift >= 64 - kSubBits - 1) return UINT64_MAX;
    return (mantissa << shift) - 1;
  }

  uint64_t counts_[kBuckets] = {};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

}  // namespace binding
}  // namespace offloop

#endif  // OFFLOOP_DURATIONS_H_
