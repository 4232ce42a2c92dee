// Separable box blur, RGBA8, edges clamped (see native/README.md, "blur").
//
//   pass 1 (rows):    tmp[y][x][c] = floor((sum_{k=-r..r} src[y][clamp(x+k)][c] + r) / d)
//   pass 2 (columns): out[y][x][c] = floor((sum_{k=-r..r} tmp[clamp(y+k)][x][c] + r) / d)
//
// Both passes keep running sums, so the cost does not depend on the radius. The vertical
// pass works on whole rows (a row of column sums: add row y+r+1, subtract row y-r), so it
// vectorises and streams. Pass-1 rows are produced on demand into a ring of min(h, 2r+2)
// rows instead of a full-size intermediate image.
//
// Division by d is a multiply-shift that is exact for every numerator n < 256*d (ours are at
// most 255*d + r). With m = floor(2^k / d) + 1 and n*(m*d - 2^k) < 2^k, i.e. 2^k >= 256*d^2,
// (n*m) >> k == floor(n / d) (the README's m = floor(2^48/d) + 1 is the k = 48 case).
//  - d <= 181 ("narrow"): window sums fit in 16 bits and k = 16 + s with 2^s in
//    [d^2/256, d) exists, so m < 2^16 and the division is a 16-bit multiply-high and shift
//    (pmulhuw). Sums and column sums are uint16.
//  - d > 181 ("wide"): uint32 sums, 64-bit products.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "kernels.h"
#include "memory.h"

// OFFLOOP_NO_SIMD builds only the portable code paths (how non-x86 targets build).
#if ((defined(__SSE2__) && (defined(__x86_64__) || defined(__i386__))) || defined(_M_X64) || \
     (defined(_M_IX86_FP) && _M_IX86_FP >= 2)) &&                                            \
    !defined(OFFLOOP_NO_SIMD)
#define OFFLOOP_BLUR_SSE2 1
#include <immintrin.h>
#else
#define OFFLOOP_BLUR_SSE2 0
#endif

#if OFFLOOP_BLUR_SSE2 && defined(__GNUC__)
#define OFFLOOP_BLUR_AVX2 1
#else
#define OFFLOOP_BLUR_AVX2 0
#endif

namespace offloop {

namespace {

constexpr uint32_t kNarrowDivisorMax = 181;

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

template <class T>
std::unique_ptr<T, FreeDeleter> Allocate(size_t count) {
  T* p = static_cast<T*>(std::malloc(count * sizeof(T)));
  if (p == nullptr) throw std::bad_alloc();
  return std::unique_ptr<T, FreeDeleter>(p);
}

// ---------------------------------------------------------------------------------------
// Narrow divisors (d <= 181): q = ((n * m) >> 16) >> s, n and m 16-bit.
// ---------------------------------------------------------------------------------------
struct NarrowDiv {
  uint16_t m;
  uint32_t s;
  uint16_t operator()(uint32_t n) const { return static_cast<uint16_t>(((n * m) >> 16) >> s); }
};

NarrowDiv MakeNarrowDiv(uint32_t d) {
  uint32_t s = 0;
  while ((256u << s) < d * d) ++s;  // 2^(16+s) >= 256*d^2
  // 2^s < d holds for every d <= 181, so m < 2^16.
  return NarrowDiv{static_cast<uint16_t>((1u << (16 + s)) / d + 1), s};
}

// Wide divisors (d > 181): q = ((n * m) >> 32) >> s, n and m 32-bit (k = 32 + s; raising k
// to at least 32 keeps 2^k >= 256*d^2, and m < 2^32 because 2^k < 512*d^2 or k = 32).
struct WideDiv {
  uint32_t m;
  uint32_t s;
  uint32_t operator()(uint32_t n) const {
    return static_cast<uint32_t>((static_cast<uint64_t>(n) * m) >> 32) >> s;
  }
};

WideDiv MakeWideDiv(uint32_t d) {
  const uint64_t need = 256ull * d * d;
  uint32_t k = 32;
  while ((1ull << k) < need) ++k;
  return WideDiv{static_cast<uint32_t>((1ull << k) / d + 1), k - 32};
}

// ---- pass 1, portable: one row, 4 channels --------------------------------------------
// Window sum of the first output: (r+1)*p[0] + sum p[1..min(r, w-1)] + max(0, r-(w-1))*p[w-1].
// Output x then adds pixel min(x+r+1, w-1) and drops pixel max(x-r, 0).
template <class Sum, class Div>
void BlurRowScalar(const uint8_t* __restrict src, uint8_t* __restrict dst, uint32_t w,
                   uint32_t r, Div div) {
  const uint32_t last = w - 1;
  Sum s[4];
  for (int c = 0; c < 4; ++c) s[c] = static_cast<Sum>((r + 1) * src[c]);
  const uint32_t upto = std::min(r, last);
  for (uint32_t x = 1; x <= upto; ++x) {
    for (int c = 0; c < 4; ++c) s[c] = static_cast<Sum>(s[c] + src[4 * x + c]);
  }
  if (r > last) {
    for (int c = 0; c < 4; ++c) s[c] = static_cast<Sum>(s[c] + (r - last) * src[4 * last + c]);
  }
  for (uint32_t x = 0; x < w; ++x) {
    for (int c = 0; c < 4; ++c) dst[4 * x + c] = static_cast<uint8_t>(div(s[c] + r));
    const uint32_t add = static_cast<uint32_t>(std::min<uint64_t>(uint64_t(x) + r + 1, last));
    const uint32_t sub = x >= r ? x - r : 0;
    for (int c = 0; c < 4; ++c) {
      s[c] = static_cast<Sum>(s[c] + src[4 * add + c] - src[4 * sub + c]);
    }
  }
}

#if OFFLOOP_BLUR_SSE2
// ---- pass 1, SSE2, narrow: the 4 channels of a pixel as 4 uint16 lanes -----------------
inline __m128i LoadPixel16(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm_unpacklo_epi8(_mm_cvtsi32_si128(v), _mm_setzero_si128());
}

inline void StorePixel(uint8_t* p, __m128i q16) {
  const int32_t v = _mm_cvtsi128_si32(_mm_packus_epi16(q16, q16));
  std::memcpy(p, &v, 4);
}

void BlurRowNarrowSse2(const uint8_t* __restrict src, uint8_t* __restrict dst, uint32_t w,
                       uint32_t r, NarrowDiv div) {
  const uint32_t last = w - 1;
  __m128i sum = _mm_mullo_epi16(LoadPixel16(src), _mm_set1_epi16(static_cast<int16_t>(r + 1)));
  const uint32_t upto = std::min(r, last);
  for (uint32_t x = 1; x <= upto; ++x) sum = _mm_add_epi16(sum, LoadPixel16(src + 4 * x));
  if (r > last) {
    sum = _mm_add_epi16(sum, _mm_mullo_epi16(LoadPixel16(src + 4 * last),
                                             _mm_set1_epi16(static_cast<int16_t>(r - last))));
  }
  const __m128i vr = _mm_set1_epi16(static_cast<int16_t>(r));
  const __m128i vm = _mm_set1_epi16(static_cast<int16_t>(div.m));
  const __m128i vs = _mm_cvtsi32_si128(static_cast<int>(div.s));
  auto emit = [&](uint32_t x, uint32_t add, uint32_t sub) {
    StorePixel(dst + 4 * x, _mm_srl_epi16(_mm_mulhi_epu16(_mm_add_epi16(sum, vr), vm), vs));
    sum = _mm_add_epi16(sum,
                        _mm_sub_epi16(LoadPixel16(src + 4 * add), LoadPixel16(src + 4 * sub)));
  };
  uint32_t x = 0;
  if (static_cast<uint64_t>(r) + 1 < w) {
    // Left edge: the dropped pixel is clamped to 0, the added one is in range.
    const uint32_t left_end = std::min<uint32_t>(r, w - r - 1);
    for (; x < left_end; ++x) emit(x, x + r + 1, 0);
    // Middle: no clamping (runs only once x >= r).
    for (; x + r + 1 <= last; ++x) emit(x, x + r + 1, x - r);
  }
  for (; x < w; ++x) {
    const uint32_t add = static_cast<uint32_t>(std::min<uint64_t>(uint64_t(x) + r + 1, last));
    emit(x, add, x >= r ? x - r : 0);
  }
}

// ---- pass 1, SSE2, wide: the 4 channels of a pixel as 4 uint32 lanes -----------------
inline __m128i LoadPixel32(const uint8_t* p) {
  return _mm_unpacklo_epi16(LoadPixel16(p), _mm_setzero_si128());
}

// floor(n / d) for 4 uint32 lanes: high half of n*m (pmuludq on even and odd lanes), >> s.
inline __m128i DivWideSse2(__m128i n, __m128i vm, __m128i vs) {
  const __m128i even = _mm_srli_epi64(_mm_mul_epu32(n, vm), 32);
  const __m128i odd = _mm_mul_epu32(_mm_srli_epi64(n, 32), vm);
  const __m128i hi = _mm_or_si128(even, _mm_and_si128(odd, _mm_set_epi32(-1, 0, -1, 0)));
  return _mm_srl_epi32(hi, vs);
}

void BlurRowWideSse2(const uint8_t* __restrict src, uint8_t* __restrict dst, uint32_t w,
                     uint32_t r, WideDiv div) {
  const uint32_t last = w - 1;
  // (r+1)*p[0]: per channel in scalar (r+1 <= 65536, p <= 255; SSE2 has no 32-bit mullo).
  __m128i sum;
  {
    alignas(16) uint32_t lanes[4];
    for (int c = 0; c < 4; ++c) lanes[c] = (r + 1) * src[c];
    sum = _mm_load_si128(reinterpret_cast<const __m128i*>(lanes));
  }
  const uint32_t upto = std::min(r, last);
  for (uint32_t x = 1; x <= upto; ++x) sum = _mm_add_epi32(sum, LoadPixel32(src + 4 * x));
  if (r > last) {
    alignas(16) uint32_t lanes[4];
    for (int c = 0; c < 4; ++c) lanes[c] = (r - last) * src[4 * last + c];
    sum = _mm_add_epi32(sum, _mm_load_si128(reinterpret_cast<const __m128i*>(lanes)));
  }
  const __m128i vr = _mm_set1_epi32(static_cast<int>(r));
  const __m128i vm = _mm_set1_epi32(static_cast<int>(div.m));
  const __m128i vs = _mm_cvtsi32_si128(static_cast<int>(div.s));
  auto emit = [&](uint32_t x, uint32_t add, uint32_t sub) {
    const __m128i q = DivWideSse2(_mm_add_epi32(sum, vr), vm, vs);
    const __m128i q16 = _mm_packs_epi32(q, q);  // q <= 255
    StorePixel(dst + 4 * x, q16);
    sum = _mm_add_epi32(sum,
                        _mm_sub_epi32(LoadPixel32(src + 4 * add), LoadPixel32(src + 4 * sub)));
  };
  uint32_t x = 0;
  if (static_cast<uint64_t>(r) + 1 < w) {
    const uint32_t left_end = std::min<uint32_t>(r, w - r - 1);
    for (; x < left_end; ++x) emit(x, x + r + 1, 0);
    for (; x + r + 1 <= last; ++x) emit(x, x + r + 1, x - r);
  }
  for (; x < w; ++x) {
    const uint32_t add = static_cast<uint32_t>(std::min<uint64_t>(uint64_t(x) + r + 1, last));
    emit(x, add, x >= r ? x - r : 0);
  }
}
#endif  // OFFLOOP_BLUR_SSE2

// ---- pass 2, narrow: a row of uint16 column sums -------------------------------------
// out[i] = div(sums[i] + r); then (if add) sums[i] += add[i] - sub[i]
void ColumnsNarrowScalar(uint16_t* __restrict sums, const uint8_t* __restrict add,
                         const uint8_t* __restrict sub, uint8_t* __restrict out, size_t n,
                         uint32_t r, NarrowDiv div) {
  for (size_t i = 0; i < n; ++i) {
    const uint16_t s = sums[i];
    out[i] = static_cast<uint8_t>(div(static_cast<uint16_t>(s + r)));
    if (add != nullptr) sums[i] = static_cast<uint16_t>(s + add[i] - sub[i]);
  }
}

#if OFFLOOP_BLUR_SSE2
void ColumnsNarrowSse2(uint16_t* __restrict sums, const uint8_t* __restrict add,
                       const uint8_t* __restrict sub, uint8_t* __restrict out, size_t n,
                       uint32_t r, NarrowDiv div) {
  const __m128i vr = _mm_set1_epi16(static_cast<int16_t>(r));
  const __m128i vm = _mm_set1_epi16(static_cast<int16_t>(div.m));
  const __m128i vs = _mm_cvtsi32_si128(static_cast<int>(div.s));
  const __m128i zero = _mm_setzero_si128();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i* sp = reinterpret_cast<__m128i*>(sums + i);
    __m128i lo = _mm_loadu_si128(sp);
    __m128i hi = _mm_loadu_si128(sp + 1);
    const __m128i qlo = _mm_srl_epi16(_mm_mulhi_epu16(_mm_add_epi16(lo, vr), vm), vs);
    const __m128i qhi = _mm_srl_epi16(_mm_mulhi_epu16(_mm_add_epi16(hi, vr), vm), vs);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(qlo, qhi));
    if (add != nullptr) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(add + i));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sub + i));
      lo = _mm_add_epi16(lo,
                         _mm_sub_epi16(_mm_unpacklo_epi8(a, zero), _mm_unpacklo_epi8(b, zero)));
      hi = _mm_add_epi16(hi,
                         _mm_sub_epi16(_mm_unpackhi_epi8(a, zero), _mm_unpackhi_epi8(b, zero)));
      _mm_storeu_si128(sp, lo);
      _mm_storeu_si128(sp + 1, hi);
    }
  }
  ColumnsNarrowScalar(sums + i, add ? add + i : nullptr, sub ? sub + i : nullptr, out + i, n - i,
                      r, div);
}
#endif  // OFFLOOP_BLUR_SSE2

#if OFFLOOP_BLUR_AVX2
__attribute__((target("avx2"))) void ColumnsNarrowAvx2(uint16_t* __restrict sums,
                                                       const uint8_t* __restrict add,
                                                       const uint8_t* __restrict sub,
                                                       uint8_t* __restrict out, size_t n,
                                                       uint32_t r, NarrowDiv div) {
  const __m256i vr = _mm256_set1_epi16(static_cast<int16_t>(r));
  const __m256i vm = _mm256_set1_epi16(static_cast<int16_t>(div.m));
  const __m128i vs = _mm_cvtsi32_si128(static_cast<int>(div.s));
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i* sp = reinterpret_cast<__m256i*>(sums + i);
    __m256i lo = _mm256_loadu_si256(sp);
    __m256i hi = _mm256_loadu_si256(sp + 1);
    const __m256i qlo = _mm256_srl_epi16(_mm256_mulhi_epu16(_mm256_add_epi16(lo, vr), vm), vs);
    const __m256i qhi = _mm256_srl_epi16(_mm256_mulhi_epu16(_mm256_add_epi16(hi, vr), vm), vs);
    // packus works per 128-bit lane: fix the order with a 64-bit permute.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi16(qlo, qhi), 0xD8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), packed);
    if (add != nullptr) {
      const __m128i* ap = reinterpret_cast<const __m128i*>(add + i);
      const __m128i* bp = reinterpret_cast<const __m128i*>(sub + i);
      lo = _mm256_add_epi16(lo, _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128(ap)),
                                                 _mm256_cvtepu8_epi16(_mm_loadu_si128(bp))));
      hi = _mm256_add_epi16(hi, _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128(ap + 1)),
                                                 _mm256_cvtepu8_epi16(_mm_loadu_si128(bp + 1))));
      _mm256_storeu_si256(sp, lo);
      _mm256_storeu_si256(sp + 1, hi);
    }
  }
  // Leave the AVX state clean before any legacy-SSE code runs (the SSE2 row pass follows).
  _mm256_zeroupper();
  ColumnsNarrowScalar(sums + i, add ? add + i : nullptr, sub ? sub + i : nullptr, out + i, n - i,
                      r, div);
}

bool CpuHasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif  // OFFLOOP_BLUR_AVX2

// ---- pass 2, wide: a row of uint32 column sums ---------------------------------------
void ColumnsWideScalar(uint32_t* __restrict sums, const uint8_t* __restrict add,
                       const uint8_t* __restrict sub, uint8_t* __restrict out, size_t n,
                       uint32_t r, WideDiv div) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t s = sums[i];
    out[i] = static_cast<uint8_t>(div(s + r));
    if (add != nullptr) sums[i] = s + add[i] - sub[i];
  }
}

#if OFFLOOP_BLUR_SSE2
void ColumnsWideSse2(uint32_t* __restrict sums, const uint8_t* __restrict add,
                     const uint8_t* __restrict sub, uint8_t* __restrict out, size_t n,
                     uint32_t r, WideDiv div) {
  const __m128i vr = _mm_set1_epi32(static_cast<int>(r));
  const __m128i vm = _mm_set1_epi32(static_cast<int>(div.m));
  const __m128i vs = _mm_cvtsi32_si128(static_cast<int>(div.s));
  const __m128i zero = _mm_setzero_si128();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i* sp = reinterpret_cast<__m128i*>(sums + i);
    __m128i s0 = _mm_loadu_si128(sp), s1 = _mm_loadu_si128(sp + 1);
    __m128i s2 = _mm_loadu_si128(sp + 2), s3 = _mm_loadu_si128(sp + 3);
    const __m128i q01 = _mm_packs_epi32(DivWideSse2(_mm_add_epi32(s0, vr), vm, vs),
                                        DivWideSse2(_mm_add_epi32(s1, vr), vm, vs));
    const __m128i q23 = _mm_packs_epi32(DivWideSse2(_mm_add_epi32(s2, vr), vm, vs),
                                        DivWideSse2(_mm_add_epi32(s3, vr), vm, vs));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(q01, q23));
    if (add != nullptr) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(add + i));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sub + i));
      const __m128i d_lo = _mm_sub_epi16(_mm_unpacklo_epi8(a, zero), _mm_unpacklo_epi8(b, zero));
      const __m128i d_hi = _mm_sub_epi16(_mm_unpackhi_epi8(a, zero), _mm_unpackhi_epi8(b, zero));
      // sign-extend the 16-bit differences to 32 bits
      s0 = _mm_add_epi32(s0, _mm_srai_epi32(_mm_unpacklo_epi16(d_lo, d_lo), 16));
      s1 = _mm_add_epi32(s1, _mm_srai_epi32(_mm_unpackhi_epi16(d_lo, d_lo), 16));
      s2 = _mm_add_epi32(s2, _mm_srai_epi32(_mm_unpacklo_epi16(d_hi, d_hi), 16));
      s3 = _mm_add_epi32(s3, _mm_srai_epi32(_mm_unpackhi_epi16(d_hi, d_hi), 16));
      _mm_storeu_si128(sp, s0);
      _mm_storeu_si128(sp + 1, s1);
      _mm_storeu_si128(sp + 2, s2);
      _mm_storeu_si128(sp + 3, s3);
    }
  }
  ColumnsWideScalar(sums + i, add ? add + i : nullptr, sub ? sub + i : nullptr, out + i, n - i,
                    r, div);
}
#endif  // OFFLOOP_BLUR_SSE2

#if OFFLOOP_BLUR_AVX2
__attribute__((target("avx2"))) inline __m256i DivWideAvx2(__m256i n, __m256i vm, __m128i vs) {
  const __m256i even = _mm256_srli_epi64(_mm256_mul_epu32(n, vm), 32);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(n, 32), vm);
  const __m256i hi =
      _mm256_blend_epi32(even, odd, 0xAA);  // odd lanes take the high half of odd products
  return _mm256_srl_epi32(hi, vs);
}

__attribute__((target("avx2"))) void ColumnsWideAvx2(uint32_t* __restrict sums,
                                                     const uint8_t* __restrict add,
                                                     const uint8_t* __restrict sub,
                                                     uint8_t* __restrict out, size_t n,
                                                     uint32_t r, WideDiv div) {
  const __m256i vr = _mm256_set1_epi32(static_cast<int>(r));
  const __m256i vm = _mm256_set1_epi32(static_cast<int>(div.m));
  const __m128i vs = _mm_cvtsi32_si128(static_cast<int>(div.s));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i* sp = reinterpret_cast<__m256i*>(sums + i);
    __m256i s[4];
    for (int j = 0; j < 4; ++j) s[j] = _mm256_loadu_si256(sp + j);
    __m256i q[4];
    for (int j = 0; j < 4; ++j) q[j] = DivWideAvx2(_mm256_add_epi32(s[j], vr), vm, vs);
    const __m256i packed =
        _mm256_packus_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm256_permutevar8x32_epi32(packed, order));
    if (add != nullptr) {
      for (int j = 0; j < 4; ++j) {
        const __m256i a = _mm256_cvtepu8_epi32(
            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(add + i + 8 * j)));
        const __m256i b = _mm256_cvtepu8_epi32(
            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sub + i + 8 * j)));
        _mm256_storeu_si256(sp + j, _mm256_add_epi32(s[j], _mm256_sub_epi32(a, b)));
      }
    }
  }
  _mm256_zeroupper();
  ColumnsWideScalar(sums + i, add ? add + i : nullptr, sub ? sub + i : nullptr, out + i, n - i,
                    r, div);
}
#endif  // OFFLOOP_BLUR_AVX2

template <class Sum>
void AccumulateRow(Sum* __restrict sums, const uint8_t* __restrict row, size_t n,
                   uint32_t weight) {
  for (size_t i = 0; i < n; ++i) sums[i] = static_cast<Sum>(sums[i] + weight * row[i]);
}

// ---- the two passes, generic over narrow/wide ------------------------------------------
template <class Sum, class Div, class RowFn, class ColumnsFn>
Status Blur(const uint8_t* src, uint8_t* dst, uint32_t width, uint32_t height, uint32_t r,
            Div div, RowFn blur_row, ColumnsFn columns, CancelFlag cancel) {
  const size_t row_bytes = static_cast<size_t>(width) * 4;
  const uint32_t last = height - 1;
  // Ring of pass-1 rows: rows y-r .. y+r+1 are live while producing output row y.
  const uint32_t ring_rows = static_cast<uint32_t>(std::min<uint64_t>(height, 2ull * r + 2));
  BytesPtr ring_owner(AllocateBytes(static_cast<size_t>(ring_rows) * row_bytes));
  if (!ring_owner) throw std::bad_alloc();
  auto sums_owner = Allocate<Sum>(row_bytes);
  uint8_t* ring = ring_owner.get();
  Sum* sums = sums_owner.get();
  auto row = [&](uint32_t y) { return ring + static_cast<size_t>(y % ring_rows) * row_bytes; };

  uint32_t produced = 0;  // pass-1 rows 0 .. produced-1 exist
  auto produce = [&](uint32_t y) -> bool {
    if (IsCancelled(cancel)) return false;
    blur_row(src + static_cast<size_t>(y) * row_bytes, row(y), width, r, div);
    produced = y + 1;
    return true;
  };

  // Column sums of the first output row.
  const uint32_t upto = std::min(r, last);
  for (uint32_t y = 0; y <= upto; ++y) {
    if (!produce(y)) return Status::kAborted;
  }
  std::memset(sums, 0, row_bytes * sizeof(Sum));
  AccumulateRow(sums, row(0), row_bytes, r + 1);
  for (uint32_t y = 1; y <= upto; ++y) {
    if (IsCancelled(cancel)) return Status::kAborted;
    AccumulateRow(sums, row(y), row_bytes, 1);
  }
  if (r > last) AccumulateRow(sums, row(last), row_bytes, r - last);

  for (uint32_t y = 0; y < height; ++y) {
    if (IsCancelled(cancel)) return Status::kAborted;
    uint8_t* out = dst + static_cast<size_t>(y) * row_bytes;
    if (y == last) {
      columns(sums, nullptr, nullptr, out, row_bytes, r, div);
      break;
    }
    const uint32_t add = static_cast<uint32_t>(std::min<uint64_t>(uint64_t(y) + r + 1, last));
    const uint32_t sub = y >= r ? y - r : 0;
    if (add >= produced && !produce(add)) return Status::kAborted;
    columns(sums, row(add), row(sub), out, row_bytes, r, div);
  }
  return Status::kOk;
}

}  // namespace

Status BoxBlurRgba(const uint8_t* src, uint8_t* dst, uint32_t width, uint32_t height,
                   uint32_t radius, CancelFlag cancel) {
  if (IsCancelled(cancel)) return Status::kAborted;
  if (radius == 0) {
    std::memcpy(dst, src, static_cast<size_t>(width) * height * 4);
    return Status::kOk;
  }
  const uint32_t d = 2 * radius + 1;
  if (d <= kNarrowDivisorMax) {
    const NarrowDiv div = MakeNarrowDiv(d);
#if OFFLOOP_BLUR_SSE2
    auto columns = ColumnsNarrowSse2;
#if OFFLOOP_BLUR_AVX2
    if (CpuHasAvx2()) columns = ColumnsNarrowAvx2;
#endif
    return Blur<uint16_t>(src, dst, width, height, radius, div, BlurRowNarrowSse2, columns,
                          cancel);
#else
    return Blur<uint16_t>(src, dst, width, height, radius, div,
                          BlurRowScalar<uint16_t, NarrowDiv>, ColumnsNarrowScalar, cancel);
#endif
  }
  const WideDiv div = MakeWideDiv(d);
#if OFFLOOP_BLUR_SSE2
  auto columns = ColumnsWideSse2;
#if OFFLOOP_BLUR_AVX2
  if (CpuHasAvx2()) columns = ColumnsWideAvx2;
#endif
  return Blur<uint32_t>(src, dst, width, height, radius, div, BlurRowWideSse2, columns, cancel);
#else
  return Blur<uint32_t>(src, dst, width, height, radius, div, BlurRowScalar<uint32_t, WideDiv>,
                        ColumnsWideScalar, cancel);
#endif
}

}  // namespace offloop
