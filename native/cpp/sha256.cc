#include "sha256.h"

#include <cstdlib>
#include <cstring>

// OFFLOOP_NO_SIMD builds only the portable code paths (how non-x86 targets build).
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(OFFLOOP_NO_SIMD)
#define OFFLOOP_HAVE_SHANI 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define OFFLOOP_HAVE_SHANI 0
#endif

#if defined(_MSC_VER)
#define OFFLOOP_ALWAYS_INLINE __forceinline
#else
#define OFFLOOP_ALWAYS_INLINE inline __attribute__((always_inline))
#endif

namespace offloop {
namespace sha256 {

const uint32_t kInitialState[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

namespace {

alignas(64) const uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

// Padding words of a 96-byte message's second block (bytes 64..95 hold the 32-byte digest):
// words 8..15 of the block = 0x80000000, 0 x6, 768 (bits).
constexpr uint32_t kPadWord8 = 0x80000000u;
constexpr uint32_t kPadWord15 = 768u;

// ------------------------------------------------------------------------------------
// Portable compression
// ------------------------------------------------------------------------------------

inline uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

#define OFFLOOP_SHA_ROUND(a, b, c, d, e, f, g, h, i)                                        \
  do {                                                                                      \
    uint32_t t1 =                                                                           \
        h + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[i] + w[i]; \
    uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c)); \
    d += t1;                                                                                \
    h = t1 + t2;                                                                            \
  } while (0)

OFFLOOP_ALWAYS_INLINE void CompressPortableInline(uint32_t state[8], const uint32_t block[16]) {
  uint32_t w[64];
  for (int i = 0; i < 16; ++i) w[i] = block[i];
  for (int i = 16; i < 64; ++i) {
    uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
  for (int i = 0; i < 64; i += 8) {
    OFFLOOP_SHA_ROUND(a, b, c, d, e, f, g, h, i + 0);
    OFFLOOP_SHA_ROUND(h, a, b, c, d, e, f, g, i + 1);
    OFFLOOP_SHA_ROUND(g, h, a, b, c, d, e, f, i + 2);
    OFFLOOP_SHA_ROUND(f, g, h, a, b, c, d, e, i + 3);
    OFFLOOP_SHA_ROUND(e, f, g, h, a, b, c, d, i + 4);
    OFFLOOP_SHA_ROUND(d, e, f, g, h, a, b, c, i + 5);
    OFFLOOP_SHA_ROUND(c, d, e, f, g, h, a, b, i + 6);
    OFFLOOP_SHA_ROUND(b, c, d, e, f, g, h, a, i + 7);
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
  state[5] += f;
  state[6] += g;
  state[7] += h;
}
#undef OFFLOOP_SHA_ROUND

void CompressPortable(uint32_t state[8], const uint32_t block[16]) {
  CompressPortableInline(state, block);
}

void Pbkdf2LoopPortable(const uint32_t istate[8], const uint32_t ostate[8], uint32_t u[8],
                        uint32_t t[8], uint32_t n) {
  // Prepadded blocks built once; only words 0..7 (the previous digest) change.
  uint32_t block[16] = {0};
  block[8] = kPadWord8;
  block[15] = kPadWord15;
  for (int i = 0; i < 8; ++i) block[i] = u[i];
  uint32_t s[8];
  for (uint32_t it = 0; it < n; ++it) {
    for (int i = 0; i < 8; ++i) s[i] = istate[i];
    CompressPortableInline(s, block);
    for (int i = 0; i < 8; ++i) block[i] = s[i];
    for (int i = 0; i < 8; ++i) s[i] = ostate[i];
    CompressPortableInline(s, block);
    for (int i = 0; i < 8; ++i) {
      block[i] = s[i];
      t[i] ^= s[i];
    }
  }
  for (int i = 0; i < 8; ++i) u[i] = block[i];
}

void Pbkdf2Loop2Portable(const uint32_t istate[8], const uint32_t ostate[8], uint32_t u_a[8],
                         uint32_t t_a[8], uint32_t u_b[8], uint32_t t_b[8], uint32_t n) {
  Pbkdf2LoopPortable(istate, ostate, u_a, t_a, n);
  Pbkdf2LoopPortable(istate, ostate, u_b, t_b, n);
}

const Impl kPortableImpl = {Backend::kPortable, "portable", CompressPortable, Pbkdf2LoopPortable,
                            Pbkdf2Loop2Portable};

// ------------------------------------------------------------------------------------
// SHA-NI compression (x86 SHA extensions + SSSE3/SSE4.1), compiled for that target only
// and called only after cpuid says the CPU has it.
// ------------------------------------------------------------------------------------
#if OFFLOOP_HAVE_SHANI

#define OFFLOOP_SHANI_TARGET __attribute__((target("sha,sse4.1,ssse3")))
#define OFFLOOP_SHANI_INLINE OFFLOOP_SHANI_TARGET inline __attribute__((always_inline))

// state words (lane0 = A) <-> the SHA-NI register layout (ABEF, CDGH).
OFFLOOP_SHANI_INLINE void WordsToAbefCdgh(__m128i dcba, __m128i hgfe, __m128i& abef,
                                          __m128i& cdgh) {
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  abef = _mm_alignr_epi8(cdab, efgh, 8);
  cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
}

OFFLOOP_SHANI_INLINE void AbefCdghToWords(__m128i abef, __m128i cdgh, __m128i& dcba,
                                          __m128i& hgfe) {
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  dcba = _mm_blend_epi16(feba, dchg, 0xF0);
  hgfe = _mm_alignr_epi8(dchg, feba, 8);
}

// Four rounds (quad i) of one stream: state s0/s1 (ABEF/CDGH), message schedule M_*.
#define OFFLOOP_QROUND(s0, s1, msg, tmp, i, M_CUR, M_PREV, M_NEXT, DO_MSG2, DO_MSG1) \
  msg = _mm_add_epi32(M_CUR, _mm_load_si128(k + (i)));                               \
  s1 = _mm_sha256rnds2_epu32(s1, s0, msg);                                           \
  if (DO_MSG2) {                                                                     \
    tmp = _mm_alignr_epi8(M_CUR, M_PREV, 4);                                         \
    M_NEXT = _mm_add_epi32(M_NEXT, tmp);                                             \
    M_NEXT = _mm_sha256msg2_epu32(M_NEXT, M_CUR);                                    \
  }                                                                                  \
  msg = _mm_shuffle_epi32(msg, 0x0E);                                                \
  s0 = _mm_sha256rnds2_epu32(s0, s1, msg);                                           \
  if (DO_MSG1) M_PREV = _mm_sha256msg1_epu32(M_PREV, M_CUR);

// The 16 quads; Q(i, cur, prev, next, msg2, msg1) is applied to each stream.
#define OFFLOOP_ALL_QUADS(Q) \
  Q(0, 0, 3, 1, 0, 0)        \
  Q(1, 1, 0, 2, 0, 1)        \
  Q(2, 2, 1, 3, 0, 1)        \
  Q(3, 3, 2, 0, 1, 1)        \
  Q(4, 0, 3, 1, 1, 1)        \
  Q(5, 1, 0, 2, 1, 1)        \
  Q(6, 2, 1, 3, 1, 1)        \
  Q(7, 3, 2, 0, 1, 1)        \
  Q(8, 0, 3, 1, 1, 1)        \
  Q(9, 1, 0, 2, 1, 1)        \
  Q(10, 2, 1, 3, 1, 1)       \
  Q(11, 3, 2, 0, 1, 1)       \
  Q(12, 0, 3, 1, 1, 1)       \
  Q(13, 1, 0, 2, 1, 0)       \
  Q(14, 2, 1, 3, 1, 0)       \
  Q(15, 3, 2, 0, 0, 0)

// 64 rounds on (abef, cdgh) with message words m0..m3 (lane0 = first word of each 4).
OFFLOOP_SHANI_INLINE void ShaNiRounds(__m128i& abef, __m128i& cdgh, __m128i m0, __m128i m1,
                                      __m128i m2, __m128i m3) {
  const __m128i* k = reinterpret_cast<const __m128i*>(kK);
  __m128i s0 = abef, s1 = cdgh, msg, tmp;
  __m128i m[4] = {m0, m1, m2, m3};
#define OFFLOOP_Q1(i, c, p, n, d2, d1) \
  OFFLOOP_QROUND(s0, s1, msg, tmp, i, m[c], m[p], m[n], d2, d1)
  OFFLOOP_ALL_QUADS(OFFLOOP_Q1)
#undef OFFLOOP_Q1
  abef = _mm_add_epi32(s0, abef);
  cdgh = _mm_add_epi32(s1, cdgh);
}

// Two independent streams, interleaved quad by quad so both dependency chains are in flight.
OFFLOOP_SHANI_INLINE void ShaNiRounds2(__m128i& abef_a, __m128i& cdgh_a, __m128i a0, __m128i a1,
                                       __m128i a2, __m128i a3, __m128i& abef_b, __m128i& cdgh_b,
                                       __m128i b0, __m128i b1, __m128i b2, __m128i b3) {
  const __m128i* k = reinterpret_cast<const __m128i*>(kK);
  __m128i sa0 = abef_a, sa1 = cdgh_a, msga, tmpa;
  __m128i sb0 = abef_b, sb1 = cdgh_b, msgb, tmpb;
  __m128i ma[4] = {a0, a1, a2, a3};
  __m128i mb[4] = {b0, b1, b2, b3};
#define OFFLOOP_Q2(i, c, p, n, d2, d1)                                 \
  OFFLOOP_QROUND(sa0, sa1, msga, tmpa, i, ma[c], ma[p], ma[n], d2, d1) \
  OFFLOOP_QROUND(sb0, sb1, msgb, tmpb, i, mb[c], mb[p], mb[n], d2, d1)
  OFFLOOP_ALL_QUADS(OFFLOOP_Q2)
#undef OFFLOOP_Q2
  abef_a = _mm_add_epi32(sa0, abef_a);
  cdgh_a = _mm_add_epi32(sa1, cdgh_a);
  abef_b = _mm_add_epi32(sb0, abef_b);
  cdgh_b = _mm_add_epi32(sb1, cdgh_b);
}
#undef OFFLOOP_ALL_QUADS
#undef OFFLOOP_QROUND

OFFLOOP_SHANI_TARGET void CompressShaNi(uint32_t state[8], const uint32_t block[16]) {
  __m128i abef, cdgh;
  WordsToAbefCdgh(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state)),
                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4)), abef, cdgh);
  const __m128i* b = reinterpret_cast<const __m128i*>(block);
  ShaNiRounds(abef, cdgh, _mm_loadu_si128(b), _mm_loadu_si128(b + 1), _mm_loadu_si128(b + 2),
              _mm_loadu_si128(b + 3));
  __m128i dcba, hgfe;
  AbefCdghToWords(abef, cdgh, dcba, hgfe);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), dcba);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), hgfe);
}

struct ShaNiStates {
  __m128i i_abef, i_cdgh, o_abef, o_cdgh;
};

OFFLOOP_SHANI_INLINE ShaNiStates LoadStates(const uint32_t istate[8], const uint32_t ostate[8]) {
  ShaNiStates st;
  WordsToAbefCdgh(_mm_loadu_si128(reinterpret_cast<const __m128i*>(istate)),
                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(istate + 4)), st.i_abef,
                  st.i_cdgh);
  WordsToAbefCdgh(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ostate)),
                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(ostate + 4)), st.o_abef,
                  st.o_cdgh);
  return st;
}

// One PBKDF2 iteration: (u0, u1) = HMAC core of the previous U (word form); t ^= u.
OFFLOOP_SHANI_INLINE void ShaNiIteration(const ShaNiStates& st, __m128i& u0, __m128i& u1,
                                         __m128i& t0, __m128i& t1) {
  // Words 8..15 of both prepadded blocks: 0x80000000, 0, 0, 0 | 0, 0, 0, 768.
  const __m128i pad2 = _mm_set_epi32(0, 0, 0, static_cast<int>(kPadWord8));
  const __m128i pad3 = _mm_set_epi32(static_cast<int>(kPadWord15), 0, 0, 0);
  __m128i abef = st.i_abef, cdgh = st.i_cdgh;
  ShaNiRounds(abef, cdgh, u0, u1, pad2, pad3);
  __m128i m0, m1;
  AbefCdghToWords(abef, cdgh, m0, m1);
  abef = st.o_abef;
  cdgh = st.o_cdgh;
  ShaNiRounds(abef, cdgh, m0, m1, pad2, pad3);
  AbefCdghToWords(abef, cdgh, u0, u1);
  t0 = _mm_xor_si128(t0, u0);
  t1 = _mm_xor_si128(t1, u1);
}

OFFLOOP_SHANI_INLINE void Load8(const uint32_t* p, __m128i& a, __m128i& b) {
  a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 4));
}

OFFLOOP_SHANI_INLINE void Store8(uint32_t* p, __m128i a, __m128i b) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), a);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 4), b);
}

OFFLOOP_SHANI_TARGET void Pbkdf2LoopShaNi(const uint32_t istate[8], const uint32_t ostate[8],
                                          uint32_t u[8], uint32_t t[8], uint32_t n) {
  const ShaNiStates st = LoadStates(istate, ostate);
  __m128i u0, u1, t0, t1;
  Load8(u, u0, u1);
  Load8(t, t0, t1);
  for (uint32_t it = 0; it < n; ++it) ShaNiIteration(st, u0, u1, t0, t1);
  Store8(u, u0, u1);
  Store8(t, t0, t1);
}

OFFLOOP_SHANI_TARGET void Pbkdf2Loop2ShaNi(const uint32_t istate[8], const uint32_t ostate[8],
                                           uint32_t u_a[8], uint32_t t_a[8], uint32_t u_b[8],
                                           uint32_t t_b[8], uint32_t n) {
  const ShaNiStates st = LoadStates(istate, ostate);
  __m128i ua0, ua1, ta0, ta1, ub0, ub1, tb0, tb1;
  Load8(u_a, ua0, ua1);
  Load8(t_a, ta0, ta1);
  Load8(u_b, ub0, ub1);
  Load8(t_b, tb0, tb1);
  // Words 8..15 of both prepadded blocks: 0x80000000, 0, 0, 0 | 0, 0, 0, 768.
  const __m128i pad2 = _mm_set_epi32(0, 0, 0, static_cast<int>(kPadWord8));
  const __m128i pad3 = _mm_set_epi32(static_cast<int>(kPadWord15), 0, 0, 0);
  for (uint32_t it = 0; it < n; ++it) {
    __m128i abef_a = st.i_abef, cdgh_a = st.i_cdgh, abef_b = st.i_abef, cdgh_b = st.i_cdgh;
    ShaNiRounds2(abef_a, cdgh_a, ua0, ua1, pad2, pad3, abef_b, cdgh_b, ub0, ub1, pad2, pad3);
    __m128i ma0, ma1, mb0, mb1;
    AbefCdghToWords(abef_a, cdgh_a, ma0, ma1);
    AbefCdghToWords(abef_b, cdgh_b, mb0, mb1);
    abef_a = abef_b = st.o_abef;
    cdgh_a = cdgh_b = st.o_cdgh;
    ShaNiRounds2(abef_a, cdgh_a, ma0, ma1, pad2, pad3, abef_b, cdgh_b, mb0, mb1, pad2, pad3);
    AbefCdghToWords(abef_a, cdgh_a, ua0, ua1);
    AbefCdghToWords(abef_b, cdgh_b, ub0, ub1);
    ta0 = _mm_xor_si128(ta0, ua0);
    ta1 = _mm_xor_si128(ta1, ua1);
    tb0 = _mm_xor_si128(tb0, ub0);
    tb1 = _mm_xor_si128(tb1, ub1);
  }
  Store8(u_a, ua0, ua1);
  Store8(t_a, ta0, ta1);
  Store8(u_b, ub0, ub1);
  Store8(t_b, tb0, tb1);
}

const Impl kShaNiImpl = {Backend::kShaNi, "sha-ni", CompressShaNi, Pbkdf2LoopShaNi,
                         Pbkdf2Loop2ShaNi};

bool DetectShaNi() {
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const bool ssse3 = (ecx >> 9) & 1;
  const bool sse41 = (ecx >> 19) & 1;
  if (!ssse3 || !sse41) return false;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  return (ebx >> 29) & 1;
}

#endif  // OFFLOOP_HAVE_SHANI

const Impl& Select() {
  const char* env = std::getenv("OFFLOOP_SHA");
  if (env != nullptr && std::strcmp(env, "portable") == 0) return kPortableImpl;
  // "sha-ni", "auto", unset or anything else: SHA-NI where the CPU has it.
  const Impl* ni = ShaNi();
  return ni != nullptr ? *ni : kPortableImpl;
}

}  // namespace

bool CpuHasShaNi() {
#if OFFLOOP_HAVE_SHANI
  static const bool has = DetectShaNi();
  return has;
#else
  return false;
#endif
}

const Impl& Portable() { return kPortableImpl; }

const Impl* ShaNi() {
#if OFFLOOP_HAVE_SHANI
  return CpuHasShaNi() ? &kShaNiImpl : nullptr;
#else
  return nullptr;
#endif
}

const Impl& Active() {
  static const Impl& impl = Select();
  return impl;
}

// ------------------------------------------------------------------------------------
// Hasher
// ------------------------------------------------------------------------------------

Hasher::Hasher(const Impl& impl) : impl_(impl) {
  std::memcpy(state_, kInitialState, sizeof(state_));
}

void Hasher::Resume(const uint32_t state[8], uint64_t bytes_done) {
  std::memcpy(state_, state, sizeof(state_));
  total_ = bytes_done;
  buf_len_ = 0;
}

void Hasher::CompressBytes(const uint8_t* block) {
  uint32_t w[16];
  for (int i = 0; i < 16; ++i) w[i] = LoadBe32(block + 4 * i);
  impl_.compress(state_, w);
}

void Hasher::Update(const uint8_t* data, size_t len) {
  if (len == 0) return;
  total_ += len;
  if (buf_len_ > 0) {
    size_t take = 64 - buf_len_;
    if (take > len) take = len;
    std::memcpy(buf_ + buf_len_, data, take);
    buf_len_ += take;
    data += take;
    len -= take;
    if (buf_len_ < 64) return;
    CompressBytes(buf_);
    buf_len_ = 0;
  }
  while (len >= 64) {
    CompressBytes(data);
    data += 64;
    len -= 64;
  }
  if (len > 0) {
    std::memcpy(buf_, data, len);
    buf_len_ = len;
  }
}

void Hasher::FinalWords(uint32_t out[8]) {
  const uint64_t bits = total_ * 8;
  buf_[buf_len_++] = 0x80;
  if (buf_len_ > 56) {
    std::memset(buf_ + buf_len_, 0, 64 - buf_len_);
    CompressBytes(buf_);
    buf_len_ = 0;
  }
  std::memset(buf_ + buf_len_, 0, 56 - buf_len_);
  StoreBe32(buf_ + 56, static_cast<uint32_t>(bits >> 32));
  StoreBe32(buf_ + 60, static_cast<uint32_t>(bits));
  CompressBytes(buf_);
  buf_len_ = 0;
  std::memcpy(out, state_, sizeof(state_));
}

void Hasher::Final(uint8_t out[32]) {
  uint32_t w[8];
  FinalWords(w);
  for (int i = 0; i < 8; ++i) StoreBe32(out + 4 * i, w[i]);
}

}  // namespace sha256
}  // namespace offloop
