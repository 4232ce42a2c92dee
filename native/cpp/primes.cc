// pi(limit) by a segmented sieve of Eratosthenes over odd numbers only.
//
// Index i stands for the odd number 2i+1. One byte per odd number, 32 KiB segments (so a
// segment covers 65536 integers and stays in L1). Multiples of 3, 5, 7, 11 and 13 are not
// crossed off one by one: each segment starts as a copy of a precomputed pattern with period
// 3*5*7*11*13 = 15015 indices. Memory is O(sqrt(limit)): the base primes (<= 65535) and
// their next-multiple cursors, plus one segment.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels.h"

namespace offloop {

namespace {

constexpr uint32_t kSegmentBytes = 32 * 1024;
constexpr uint32_t kPatternPeriod = 3 * 5 * 7 * 11 * 13;  // 15015 (in odd indices)
constexpr uint32_t kPresieved[] = {3, 5, 7, 11, 13};
constexpr uint32_t kFirstSievingPrime = 17;

struct Pattern {
  uint8_t bytes[kPatternPeriod + kSegmentBytes];
  Pattern() {
    for (uint32_t i = 0; i < sizeof(bytes); ++i) {
      const uint32_t n = 2 * i + 1;
      bytes[i] = (n % 3 && n % 5 && n % 7 && n % 11 && n % 13) ? 1 : 0;
    }
  }
};

const Pattern& GetPattern() {
  static const Pattern pattern;
  return pattern;
}

uint32_t ISqrt(uint32_t n) {
  uint64_t r = static_cast<uint64_t>(std::sqrt(static_cast<double>(n)));
  while (r * r > n) --r;
  while ((r + 1) * (r + 1) <= n) ++r;
  return static_cast<uint32_t>(r);
}

// Odd primes in [3, max] by a plain sieve (max < 65536).
std::vector<uint32_t> SmallOddPrimes(uint32_t max) {
  std::vector<uint32_t> primes;
  if (max < 3) return primes;
  std::vector<uint8_t> composite(max + 1, 0);
  for (uint32_t p = 3; p * p <= max; p += 2) {
    if (composite[p]) continue;
    for (uint32_t m = p * p; m <= max; m += 2 * p) composite[m] = 1;
  }
  for (uint32_t p = 3; p <= max; p += 2) {
    if (!composite[p]) primes.push_back(p);
  }
  return primes;
}

inline uint32_t CountOnes(const uint8_t* s, uint32_t len) {
  // Every byte is 0 or 1. Sum 8 bytes at a time; each byte lane of `acc` gains at most 1 per
  // word, so fold it every 255 words.
  uint64_t total = 0;
  uint32_t i = 0;
  while (i + 8 <= len) {
    uint64_t acc = 0;
    const uint32_t stop = std::min<uint32_t>(len & ~7u, i + 8 * 255);
    for (; i < stop; i += 8) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      acc += w;
    }
    // Horizontal byte sum: pairwise widen, then multiply-accumulate into the top lane.
    acc = (acc & 0x00ff00ff00ff00ffull) + ((acc >> 8) & 0x00ff00ff00ff00ffull);
    acc = (acc & 0x0000ffff0000ffffull) + ((acc >> 16) & 0x0000ffff0000ffffull);
    acc = (acc & 0x00000000ffffffffull) + (acc >> 32);
    total += acc;
  }
  for (; i < len; ++i) total += s[i];
  return static_cast<uint32_t>(total);
}

}  // namespace

Status CountPrimes(uint32_t limit, CancelFlag cancel, uint64_t* count) {
  if (IsCancelled(cancel)) return Status::kAborted;
  if (limit < 2) {
    *count = 0;
    return Status::kOk;
  }
  const Pattern& pattern = GetPattern();
  // Odd indices 0 ..= (limit - 1) / 2, i.e. odd numbers 1 ..= limit.
  const uint64_t num_indices = (static_cast<uint64_t>(limit) - 1) / 2 + 1;
  const uint32_t root = ISqrt(limit);

  std::vector<uint32_t> base = SmallOddPrimes(root);
  // Sieving primes (>= 17) and, for each, the index of the next odd multiple to cross off,
  // starting at p*p.
  std::vector<uint32_t> primes;
  std::vector<uint32_t> next;
  for (uint32_t p : base) {
    if (p < kFirstSievingPrime) continue;
    primes.push_back(p);
    next.push_back(static_cast<uint32_t>((static_cast<uint64_t>(p) * p - 1) / 2));
  }
  const size_t num_primes = primes.size();

  alignas(64) uint8_t seg[kSegmentBytes];
  uint64_t total = 1;  // the prime 2
  size_t active = 0;   // primes[0 .. active) have p*p inside or before the current segment
  for (uint64_t lo = 0; lo < num_indices; lo += kSegmentBytes) {
    if (IsCancelled(cancel)) return Status::kAborted;
    const uint32_t len =
        static_cast<uint32_t>(std::min<uint64_t>(kSegmentBytes, num_indices - lo));
    const uint64_t hi = lo + len;
    std::memcpy(seg, pattern.bytes + (lo % kPatternPeriod), len);
    if (lo == 0) {
      seg[0] = 0;  // 1 is not prime
      for (uint32_t p : kPresieved) {
        if ((p - 1) / 2 < len) seg[(p - 1) / 2] = 1;  // the presieved primes themselves
      }
    }
    while (active < num_primes && next[active] < hi) ++active;

    const uint32_t base_lo = static_cast<uint32_t>(lo);
    for (size_t k = 0; k < active; ++k) {
      const uint32_t p = primes[k];
      uint32_t j = next[k] - base_lo;
      if (j >= len) continue;
      if (p < len / 4) {
        const uint32_t p2 = 2 * p, p3 = 3 * p, p4 = 4 * p;
        for (; j + p3 < len; j += p4) {
          seg[j] = 0;
          seg[j + p] = 0;
          seg[j + p2] = 0;
          seg[j + p3] = 0;
        }
      }
      for (; j < len; j += p) seg[j] = 0;
      next[k] = base_lo + j;
    }
    total += CountOnes(seg, len);
  }
  *count = total;
  return Status::kOk;
}

}  // namespace offloop
