//! SHA-256 (FIPS 180-4), our own: a portable compression function and one using the x86 SHA
//! extensions (SHA-NI), chosen once per process.
//!
//! Everything here works in *word form*: a 64-byte block is `[u32; 16]` holding the big-endian
//! message words already decoded, and a digest is the eight state words. Byte strings are
//! converted at the edges ([`Sha256::update`], [`State`] → bytes in the caller), so PBKDF2's hot
//! loop, which feeds one digest straight into the next block, never swaps bytes.

use std::sync::OnceLock;

pub type State = [u32; 8];
pub type Block = [u32; 16];

pub const IV: State = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

pub(crate) const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

// ---- backend selection -----------------------------------------------------------------------

/// Which compression function is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// x86 SHA extensions (+ SSE2/SSSE3/SSE4.1).
    ShaNi,
    /// Plain Rust.
    Portable,
}

impl Backend {
    /// The name JS sees as `shaBackend`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::ShaNi => "sha-ni",
            Backend::Portable => "portable",
        }
    }
}

/// Whether this CPU can run the SHA-NI path.
pub fn sha_ni_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("sha")
            && is_x86_feature_detected!("sse2")
            && is_x86_feature_detected!("ssse3")
            && is_x86_feature_detected!("sse4.1")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The backend for a given `OFFLOOP_SHA` value: `portable`, `sha-ni` (falls back to portable
/// where unsupported), or `auto` / unset / anything else (SHA-NI where supported).
pub fn choose_backend(requested: Option<&str>) -> Backend {
    match requested {
        Some("portable") => Backend::Portable,
        _ if sha_ni_supported() => Backend::ShaNi,
        _ => Backend::Portable,
    }
}

static BACKEND: OnceLock<Backend> = OnceLock::new();

/// The process-wide backend, decided the first time this is called (the addon calls it when it
/// loads) from the environment variable `OFFLOOP_SHA`; later changes to the variable are ignored.
pub fn backend() -> Backend {
    *BACKEND.get_or_init(|| {
        let requested = std::env::var("OFFLOOP_SHA").ok();
        choose_backend(requested.as_deref().map(str::trim))
    })
}

// ---- compression -----------------------------------------------------------------------------

/// One compression: `state` ← `state` + F(`state`, `block`).
#[inline]
pub fn compress(backend: Backend, state: &mut State, block: &Block) {
    match backend {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Backend::ShaNi` is only ever chosen after `sha_ni_supported()` said yes.
        Backend::ShaNi => unsafe { shani::compress(state, block) },
        _ => compress_portable(state, block),
    }
}

#[inline(always)]
fn big_s0(x: u32) -> u32 {
    x.rotate_right(2) ^ x.rotate_right(13) ^ x.rotate_right(22)
}
#[inline(always)]
fn big_s1(x: u32) -> u32 {
    x.rotate_right(6) ^ x.rotate_right(11) ^ x.rotate_right(25)
}
#[inline(always)]
fn small_s0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}
#[inline(always)]
fn small_s1(x: u32) -> u32 {
    x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10)
}

/// The portable compression, writing `base + F(base, block)` to `out` (which may be a part of
/// the next block: PBKDF2 writes the inner digest straight into the outer block).
#[inline(always)]
pub fn compress_portable_to(base: &State, block: &Block, out: &mut [u32]) {
    let mut w = [0u32; 64];
    w[..16].copy_from_slice(block);
    for t in 16..64 {
        w[t] = small_s1(w[t - 2])
            .wrapping_add(w[t - 7])
            .wrapping_add(small_s0(w[t - 15]))
            .wrapping_add(w[t - 16]);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *base;
    // Eight rounds per step with the variables renamed instead of shuffled.
    macro_rules! round {
        ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident, $t:expr) => {
            let t1 = $h
                .wrapping_add(big_s1($e))
                .wrapping_add(($e & $f) ^ (!$e & $g))
                .wrapping_add(K[$t])
                .wrapping_add(w[$t]);
            let t2 = big_s0($a).wrapping_add(($a & $b) ^ ($a & $c) ^ ($b & $c));
            $d = $d.wrapping_add(t1);
            $h = t1.wrapping_add(t2);
        };
    }
    let mut t = 0;
    while t < 64 {
        round!(a, b, c, d, e, f, g, h, t);
        round!(h, a, b, c, d, e, f, g, t + 1);
        round!(g, h, a, b, c, d, e, f, t + 2);
        round!(f, g, h, a, b, c, d, e, t + 3);
        round!(e, f, g, h, a, b, c, d, t + 4);
        round!(d, e, f, g, h, a, b, c, t + 5);
        round!(c, d, e, f, g, h, a, b, t + 6);
        round!(b, c, d, e, f, g, h, a, t + 7);
        t += 8;
    }
    out[0] = base[0].wrapping_add(a);
    out[1] = base[1].wrapping_add(b);
    out[2] = base[2].wrapping_add(c);
    out[3] = base[3].wrapping_add(d);
    out[4] = base[4].wrapping_add(e);
    out[5] = base[5].wrapping_add(f);
    out[6] = base[6].wrapping_add(g);
    out[7] = base[7].wrapping_add(h);
}

pub fn compress_portable(state: &mut State, block: &Block) {
    let base = *state;
    compress_portable_to(&base, block, state);
}

/// The SHA-NI compression. The instructions keep the state as two vectors `ABEF` and `CDGH`
/// (lane 3 first); callers in this module that run many compressions back to back (PBKDF2)
/// stay in that form and only convert at the ends.
#[cfg(target_arch = "x86_64")]
pub(crate) mod shani {
    use super::{Block, K, State};
    use core::arch::x86_64::*;

    /// `[A..D]`, `[E..H]` (lane 0 = A / E) → (`ABEF`, `CDGH`) as `sha256rnds2` wants them.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub fn to_abef_cdgh(abcd: __m128i, efgh: __m128i) -> (__m128i, __m128i) {
        let cdab = _mm_shuffle_epi32(abcd, 0xB1);
        let efgh_r = _mm_shuffle_epi32(efgh, 0x1B);
        let abef = _mm_alignr_epi8(cdab, efgh_r, 8);
        let cdgh = _mm_blend_epi16(efgh_r, cdab, 0xF0);
        (abef, cdgh)
    }

    /// The inverse of [`to_abef_cdgh`]: back to word order (lane 0 = A / E).
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub fn from_abef_cdgh(abef: __m128i, cdgh: __m128i) -> (__m128i, __m128i) {
        let feba = _mm_shuffle_epi32(abef, 0x1B);
        let dchg = _mm_shuffle_epi32(cdgh, 0xB1);
        let abcd = _mm_blend_epi16(feba, dchg, 0xF0);
        let efgh = _mm_alignr_epi8(dchg, feba, 8);
        (abcd, efgh)
    }

    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    unsafe fn k(i: usize) -> __m128i {
        unsafe { _mm_loadu_si128(K.as_ptr().add(4 * i) as *const __m128i) }
    }

    /// 64 rounds on (`abef`, `cdgh`) with message words `m0..m3` (word form, lane 0 first),
    /// plus the final addition of the input state. Fully unrolled; the message schedule rotates
    /// through the four registers as in Intel's reference code.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    #[allow(unused_assignments)] // the last quad's dead schedule update, skipped at run time
    pub unsafe fn rounds(
        abef: __m128i,
        cdgh: __m128i,
        m0: __m128i,
        m1: __m128i,
        m2: __m128i,
        m3: __m128i,
    ) -> (__m128i, __m128i) {
        unsafe {
            let (mut s0, mut s1) = (abef, cdgh);
            let mut m = [m0, m1, m2, m3];
            // Quad-round i uses m[i % 4]; it finishes the schedule for quad i+1 (msg2) and starts
            // the one for quad i+3 (msg1).
            macro_rules! quad {
                ($i:expr) => {{
                    let i: usize = $i;
                    let cur = m[i % 4];
                    let wk = _mm_add_epi32(cur, k(i));
                    s1 = _mm_sha256rnds2_epu32(s1, s0, wk);
                    if (3..=14).contains(&i) {
                        let t = _mm_alignr_epi8(cur, m[(i + 3) % 4], 4);
                        let next = _mm_add_epi32(m[(i + 1) % 4], t);
                        m[(i + 1) % 4] = _mm_sha256msg2_epu32(next, cur);
                    }
                    s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(wk, 0x0E));
                    if (1..=12).contains(&i) {
                        m[(i + 3) % 4] = _mm_sha256msg1_epu32(m[(i + 3) % 4], cur);
                    }
                }};
            }
            quad!(0);
            quad!(1);
            quad!(2);
            quad!(3);
            quad!(4);
            quad!(5);
            quad!(6);
            quad!(7);
            quad!(8);
            quad!(9);
            quad!(10);
            quad!(11);
            quad!(12);
            quad!(13);
            quad!(14);
            quad!(15);
            (_mm_add_epi32(s0, abef), _mm_add_epi32(s1, cdgh))
        }
    }

    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub unsafe fn load(words: &[u32]) -> __m128i {
        debug_assert!(words.len() >= 4);
        unsafe { _mm_loadu_si128(words.as_ptr() as *const __m128i) }
    }

    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub unsafe fn store(words: &mut [u32], v: __m128i) {
        debug_assert!(words.len() >= 4);
        unsafe { _mm_storeu_si128(words.as_mut_ptr() as *mut __m128i, v) }
    }

    /// # Safety
    /// The CPU must support SHA, SSE2, SSSE3 and SSE4.1.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub unsafe fn compress(state: &mut State, block: &Block) {
        unsafe {
            let (abef, cdgh) = to_abef_cdgh(load(&state[0..4]), load(&state[4..8]));
            let (abef, cdgh) = rounds(
                abef,
                cdgh,
                load(&block[0..4]),
                load(&block[4..8]),
                load(&block[8..12]),
                load(&block[12..16]),
            );
            let (abcd, efgh) = from_abef_cdgh(abef, cdgh);
            store(&mut state[0..4], abcd);
            store(&mut state[4..8], efgh);
        }
    }
}

// ---- streaming hash --------------------------------------------------------------------------

/// An incremental SHA-256 over bytes, possibly continuing from a midstate (HMAC's inner and
/// outer states). `finish` returns the digest in word form.
#[derive(Clone)]
pub struct Sha256 {
    backend: Backend,
    state: State,
    buf: [u8; 64],
    buf_len: usize,
    /// Bytes hashed so far, including those behind a midstate.
    total: u64,
}

#[inline]
fn block_words(bytes: &[u8]) -> Block {
    let mut w = [0u32; 16];
    for (i, chunk) in bytes.chunks_exact(4).take(16).enumerate() {
        w[i] = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    w
}

impl Sha256 {
    pub fn new(backend: Backend) -> Self {
        Self::resume(backend, IV, 0)
    }

    /// Continue from `state`, which has absorbed `blocks` whole 64-byte blocks.
    pub fn resume(backend: Backend, state: State, blocks: u64) -> Self {
        Sha256 {
            backend,
            state,
            buf: [0; 64],
            buf_len: 0,
            total: blocks * 64,
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buf_len > 0 {
            let take = (64 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < 64 {
                return;
            }
            let block = block_words(&self.buf);
            compress(self.backend, &mut self.state, &block);
            self.buf_len = 0;
        }
        let mut chunks = data.chunks_exact(64);
        for chunk in &mut chunks {
            compress(self.backend, &mut self.state, &block_words(chunk));
        }
        let rest = chunks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    pub fn finish(mut self) -> State {
        let bits = self.total.wrapping_mul(8);
        let mut pad = [0u8; 72];
        pad[0] = 0x80;
        // Pad to 56 mod 64, then the 64-bit big-endian bit length.
        let zeros = (64 + 56 - (self.buf_len + 1) % 64) % 64;
        let pad_len = 1 + zeros;
        pad[pad_len..pad_len + 8].copy_from_slice(&bits.to_be_bytes());
        let total = self.total;
        self.update(&pad[..pad_len + 8]);
        debug_assert_eq!(self.buf_len, 0);
        self.total = total;
        self.state
    }
}

/// The digest of `data` as bytes.
pub fn digest(backend: Backend, data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new(backend);
    h.update(data);
    state_bytes(&h.finish())
}

/// A state (digest in word form) as its 32 big-endian bytes.
pub fn state_bytes(state: &State) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, w) in state.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn backends() -> Vec<Backend> {
        let mut v = vec![Backend::Portable];
        if sha_ni_supported() {
            v.push(Backend::ShaNi);
        }
        v
    }

    #[test]
    fn known_digests() {
        for b in backends() {
            assert_eq!(
                hex(&digest(b, b"")),
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            );
            assert_eq!(
                hex(&digest(b, b"abc")),
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            );
            assert_eq!(
                hex(&digest(
                    b,
                    b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
                )),
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            );
            assert_eq!(
                hex(&digest(b, &vec![b'a'; 1_000_000])),
                "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
            );
        }
    }

    #[test]
    fn backends_agree_and_streaming_matches() {
        let data: Vec<u8> = (0..1000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect();
        for len in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 999] {
            let one = digest(Backend::Portable, &data[..len]);
            for b in backends() {
                assert_eq!(digest(b, &data[..len]), one);
                let mut h = Sha256::new(b);
                for chunk in data[..len].chunks(7) {
                    h.update(chunk);
                }
                assert_eq!(state_bytes(&h.finish()), one);
            }
        }
    }
}
