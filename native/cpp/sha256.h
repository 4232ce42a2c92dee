// SHA-256 for offloop's PBKDF2: a portable compression and an x86 SHA-NI compression,
// chosen once at run time (cpuid) and overridable with OFFLOOP_SHA=portable|sha-ni|auto.
//
// Blocks are passed in "word form": 16 uint32_t message words holding the big-endian words
// of the block as host integers (state words likewise). The PBKDF2 loop keeps U in word
// form, so no byte swapping happens inside the iteration loop.
#ifndef OFFLOOP_SHA256_H_
#define OFFLOOP_SHA256_H_

#include <cstddef>
#include <cstdint>

namespace offloop {
namespace sha256 {

enum class Backend { kPortable, kShaNi };

// Compresses one 64-byte block (word form) into `state`.
using CompressFn = void (*)(uint32_t state[8], const uint32_t block[16]);

// The PBKDF2-HMAC-SHA256 iteration loop, run `n` times:
//   U = SHA256-compress(ostate, [SHA256-compress(istate, [U, pad]), pad]);  T ^= U
// where pad is the fixed padding for a 96-byte message (0x80, zeros, length 768 bits).
// `istate`/`ostate` are the HMAC inner/outer states after the key block.
using Pbkdf2LoopFn = void (*)(const uint32_t istate[8], const uint32_t ostate[8], uint32_t u[8],
                              uint32_t t[8], uint32_t n);

// The same loop for two independent output blocks at once (PBKDF2 blocks T_i, T_i+1): their
// dependency chains interleave, which roughly doubles throughput on SHA-NI.
using Pbkdf2Loop2Fn = void (*)(const uint32_t istate[8], const uint32_t ostate[8],
                               uint32_t u_a[8], uint32_t t_a[8], uint32_t u_b[8],
                               uint32_t t_b[8], uint32_t n);

struct Impl {
  Backend backend;
  const char* name;  // "portable" | "sha-ni"
  CompressFn compress;
  Pbkdf2LoopFn pbkdf2_loop;
  Pbkdf2Loop2Fn pbkdf2_loop2;
};

// The implementation in use. Selected on the first call (reads OFFLOOP_SHA once); later
// calls return the same object. Thread-safe.
const Impl& Active();

const Impl& Portable();
// The SHA-NI implementation, or nullptr when not compiled in or the CPU lacks it.
const Impl* ShaNi();
bool CpuHasShaNi();

extern const uint32_t kInitialState[8];

// A streaming SHA-256 on top of an Impl's compression.
class Hasher {
 public:
  explicit Hasher(const Impl& impl);
  // Starts from `state` as if `bytes_done` bytes (a multiple of 64) were already hashed.
  void Resume(const uint32_t state[8], uint64_t bytes_done);
  void Update(const uint8_t* data, size_t len);
  void FinalWords(uint32_t out[8]);  // digest in word form
  void Final(uint8_t out[32]);       // digest as bytes

 private:
  void CompressBytes(const uint8_t* block);
  const Impl& impl_;
  uint32_t state_[8];
  uint64_t total_ = 0;
  uint8_t buf_[64];
  size_t buf_len_ = 0;
};

inline uint32_t LoadBe32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) |
         uint32_t(p[3]);
}
inline void StoreBe32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

}  // namespace sha256
}  // namespace offloop

#endif  // OFFLOOP_SHA256_H_
