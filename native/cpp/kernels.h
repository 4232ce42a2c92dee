// offloop C++ kernels: plain C++17, no Node-API, no JS values.
//
// Every long-running kernel takes a CancelFlag (may be null: never cancelled) and polls it
// at least every ~millisecond of work. A kernel that notices the flag returns
// Status::kAborted early; its outputs are then unspecified. Allocation failures surface as
// std::bad_alloc; the binding turns them into a rejected Promise / thrown Error.
#ifndef OFFLOOP_KERNELS_H_
#define OFFLOOP_KERNELS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace offloop {

// Pointer to the shared "cancelled" bit of a cancel token, or nullptr.
using CancelFlag = const std::atomic<bool>*;

inline bool IsCancelled(CancelFlag flag) {
  return flag != nullptr && flag->load(std::memory_order_relaxed);
}

enum class Status { kOk, kAborted };

// ---- bounds (see native/README.md, "Arguments and errors") ---------------------------
constexpr uint64_t kPrimesMaxLimit = 4294967295ull;  // 2^32 - 1
constexpr uint64_t kPbkdf2MinIterations = 1;
constexpr uint64_t kPbkdf2MaxIterations = 100000000ull;  // 10^8
constexpr uint64_t kPbkdf2MinKeylen = 1;
constexpr uint64_t kPbkdf2MaxKeylen = 1024;
constexpr uint64_t kBlurMinSide = 1;
constexpr uint64_t kBlurMaxSide = 65535;
constexpr uint64_t kBlurMaxPixels = 67108864ull;  // 2^26
constexpr uint64_t kBlurMaxRadius = 65535;
constexpr uint64_t kSleepMaxMs = 60000;

// ---- primes --------------------------------------------------------------------------
// pi(limit): the number of primes <= limit. Segmented odd-only sieve, 32 KiB segments;
// polls `cancel` once per segment.
Status CountPrimes(uint32_t limit, CancelFlag cancel, uint64_t* count);

// ---- pbkdf2 --------------------------------------------------------------------------
// PBKDF2-HMAC-SHA256 (RFC 8018). `out` receives `keylen` bytes. Polls `cancel` every 256
// iterations.
Status Pbkdf2Sha256(const uint8_t* password, size_t password_len, const uint8_t* salt,
                    size_t salt_len, uint32_t iterations, uint8_t* out, size_t keylen,
                    CancelFlag cancel);

// ---- blur ----------------------------------------------------------------------------
// Separable box blur of an RGBA8 image (README formula, edges clamped). `src` and `dst` hold
// width*height*4 bytes and must not overlap. Polls `cancel` every row of either pass.
Status BoxBlurRgba(const uint8_t* src, uint8_t* dst, uint32_t width, uint32_t height,
                   uint32_t radius, CancelFlag cancel);

// ---- sleep ---------------------------------------------------------------------------
// Blocks the calling thread for `ms` milliseconds, in slices of <= 1 ms.
Status SleepMs(uint32_t ms, CancelFlag cancel);

}  // namespace offloop

#endif  // OFFLOOP_KERNELS_H_
