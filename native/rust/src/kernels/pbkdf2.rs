//! PBKDF2-HMAC-SHA256 (RFC 8018 §5.2 with HMAC from RFC 2104).
//!
//! The HMAC key is XORed with ipad/opad and compressed once into the inner and outer states.
//! Every iteration after the first is then exactly two compressions of prepadded blocks whose
//! tail never changes (`U ‖ 0x80 ‖ 0… ‖ len = 768 bits`): the inner one from the inner state over
//! `U`, the outer one from the outer state over the inner digest. `U` and the running XOR `T`
//! stay in word form throughout; bytes appear only when a block of `T` is written out.

use super::sha256::{self, Backend, Block, State};
use super::{Stop, cancelled};
use std::sync::atomic::AtomicBool;

/// Iterations between two looks at the cancel flag.
const POLL_EVERY: u32 = 256;

/// The constant tail of a 64-byte block that carries a 32-byte digest after a 64-byte key
/// block: `0x80`, zeros, and the message length (64 + 32 bytes = 768 bits).
const DIGEST_BLOCK_TAIL: [u32; 8] = [0x8000_0000, 0, 0, 0, 0, 0, 0, 768];

/// Fill `out` with PBKDF2-HMAC-SHA256(password, salt, iterations, out.len()).
/// `iterations` ≥ 1. Returns `Stop::Cancelled` (leaving `out` partly written) if `cancel` is
/// seen set.
pub fn pbkdf2_hmac_sha256(
    backend: Backend,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    out: &mut [u8],
    cancel: &AtomicBool,
) -> Result<(), Stop> {
    assert!(iterations >= 1, "pbkdf2: iterations must be at least 1");
    let (istate, ostate) = hmac_states(backend, password);

    // U1 = HMAC(P, S ‖ INT(i)) for output block i, counting from 1.
    let first_u = |index: usize| {
        let block_index = u32::try_from(index + 1).expect("pbkdf2: too many output blocks");
        let mut inner = sha256::Sha256::resume(backend, istate, 1);
        inner.update(salt);
        inner.update(&block_index.to_be_bytes());
        outer_hash(backend, &ostate, &inner.finish())
    };
    let put = |chunk: &mut [u8], t: &State| {
        let bytes = sha256::state_bytes(t);
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    };

    let mut chunks: Vec<&mut [u8]> = out.chunks_mut(32).collect();
    let mut index = 0;
    while index < chunks.len() {
        if cancelled(cancel) {
            return Err(Stop::Cancelled);
        }
        // With SHA-NI one chain of compressions is bound by the instructions' latency, so two
        // output blocks are iterated side by side: twice the work in about the same time.
        #[cfg(target_arch = "x86_64")]
        if backend == Backend::ShaNi && index + 1 < chunks.len() {
            let (ua, ub) = (first_u(index), first_u(index + 1));
            // SAFETY: `Backend::ShaNi` is only chosen when the CPU has the features.
            let (ta, tb) = unsafe { iterate_shani_x2(&istate, &ostate, ua, ub, iterations - 1, cancel)? };
            put(chunks[index], &ta);
            put(chunks[index + 1], &tb);
            index += 2;
            continue;
        }
        let t = iterate(backend, &istate, &ostate, first_u(index), iterations - 1, cancel)?;
        put(chunks[index], &t);
        index += 1;
    }
    Ok(())
}

/// The HMAC inner and outer midstates: SHA-256 after one block of `K ⊕ ipad` / `K ⊕ opad`,
/// with `K` the password, or its digest if it is longer than a block, zero-padded to 64 bytes.
pub fn hmac_states(backend: Backend, password: &[u8]) -> (State, State) {
    let mut key = [0u8; 64];
    if password.len() > 64 {
        key[..32].copy_from_slice(&sha256::digest(backend, password));
    } else {
        key[..password.len()].copy_from_slice(password);
    }
    let mut ipad = [0u32; 16];
    let mut opad = [0u32; 16];
    for i in 0..16 {
        let w = u32::from_be_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]]);
        ipad[i] = w ^ 0x3636_3636;
        opad[i] = w ^ 0x5c5c_5c5c;
    }
    let mut istate = sha256::IV;
    let mut ostate = sha256::IV;
    sha256::compress(backend, &mut istate, &ipad);
    sha256::compress(backend, &mut ostate, &opad);
    (istate, ostate)
}

/// `H(K ⊕ opad ‖ digest)` from the outer midstate: one compression of a prepadded block.
fn outer_hash(backend: Backend, ostate: &State, digest: &State) -> State {
    let mut block: Block = [0; 16];
    block[..8].copy_from_slice(digest);
    block[8..].copy_from_slice(&DIGEST_BLOCK_TAIL);
    let mut state = *ostate;
    sha256::compress(backend, &mut state, &block);
    state
}

/// T = U1 ⊕ U2 ⊕ … ⊕ U(1+rounds), where U(j+1) = HMAC(P, U(j)).
fn iterate(
    backend: Backend,
    istate: &State,
    ostate: &State,
    u1: State,
    rounds: u32,
    cancel: &AtomicBool,
) -> Result<State, Stop> {
    match backend {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Backend::ShaNi` is only chosen when the CPU has the features.
        Backend::ShaNi => unsafe { iterate_shani(istate, ostate, u1, rounds, cancel) },
        _ => iterate_portable(istate, ostate, u1, rounds, cancel),
    }
}

fn iterate_portable(
    istate: &State,
    ostate: &State,
    u1: State,
    rounds: u32,
    cancel: &AtomicBool,
) -> Result<State, Stop> {
    // ublock = U ‖ pad: the inner block; oblock = inner digest ‖ pad: the outer block. Each
    // compression writes its result straight into the first half of the other block.
    let mut ublock: Block = [0; 16];
    ublock[..8].copy_from_slice(&u1);
    ublock[8..].copy_from_slice(&DIGEST_BLOCK_TAIL);
    let mut oblock = ublock;
    let mut t = u1;
    let mut left = rounds;
    while left > 0 {
        if cancelled(cancel) {
            return Err(Stop::Cancelled);
        }
        let n = left.min(POLL_EVERY);
        for _ in 0..n {
            sha256::compress_portable_to(istate, &ublock, &mut oblock[..8]);
            sha256::compress_portable_to(ostate, &oblock, &mut ublock[..8]);
            for k in 0..8 {
                t[k] ^= ublock[k];
            }
        }
        left -= n;
    }
    Ok(t)
}

/// # Safety
/// The CPU must support SHA, SSE2, SSSE3 and SSE4.1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn iterate_shani(
    istate: &State,
    ostate: &State,
    u1: State,
    rounds: u32,
    cancel: &AtomicBool,
) -> Result<State, Stop> {
    use super::sha256::shani::{from_abef_cdgh, load, rounds as compress, store, to_abef_cdgh};
    use core::arch::x86_64::*;
    unsafe {
        // Midstates in the instructions' own (ABEF, CDGH) form, converted once.
        let (i_abef, i_cdgh) = to_abef_cdgh(load(&istate[..4]), load(&istate[4..]));
        let (o_abef, o_cdgh) = to_abef_cdgh(load(&ostate[..4]), load(&ostate[4..]));
        // The constant second half of both blocks.
        let pad_lo = load(&DIGEST_BLOCK_TAIL[..4]);
        let pad_hi = load(&DIGEST_BLOCK_TAIL[4..]);
        // U in word form is directly the first half of the next inner block.
        let (mut u_lo, mut u_hi) = (load(&u1[..4]), load(&u1[4..]));
        let (mut t_lo, mut t_hi) = (u_lo, u_hi);
        let mut left = rounds;
        while left > 0 {
            if cancelled(cancel) {
                return Err(Stop::Cancelled);
            }
            let n = left.min(POLL_EVERY);
            for _ in 0..n {
                let (a, b) = compress(i_abef, i_cdgh, u_lo, u_hi, pad_lo, pad_hi);
                let (h_lo, h_hi) = from_abef_cdgh(a, b);
                let (a, b) = compress(o_abef, o_cdgh, h_lo, h_hi, pad_lo, pad_hi);
                (u_lo, u_hi) = from_abef_cdgh(a, b);
                t_lo = _mm_xor_si128(t_lo, u_lo);
                t_hi = _mm_xor_si128(t_hi, u_hi);
            }
            left -= n;
        }
        let mut t = [0u32; 8];
        store(&mut t[..4], t_lo);
        store(&mut t[4..], t_hi);
        Ok(t)
    }
}

/// [`iterate_shani`] for two independent blocks at once, interleaved so that each chain's
/// `sha256rnds2` latency is hidden behind the other's.
///
/// # Safety
/// The CPU must support SHA, SSE2, SSSE3 and SSE4.1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn iterate_shani_x2(
    istate: &State,
    ostate: &State,
    ua: State,
    ub: State,
    rounds: u32,
    cancel: &AtomicBool,
) -> Result<(State, State), Stop> {
    use super::sha256::shani::{from_abef_cdgh, load, rounds as compress, store, to_abef_cdgh};
    use core::arch::x86_64::*;
    unsafe {
        let (i_abef, i_cdgh) = to_abef_cdgh(load(&istate[..4]), load(&istate[4..]));
        let (o_abef, o_cdgh) = to_abef_cdgh(load(&ostate[..4]), load(&ostate[4..]));
        let pad_lo = load(&DIGEST_BLOCK_TAIL[..4]);
        let pad_hi = load(&DIGEST_BLOCK_TAIL[4..]);
        let (mut a_lo, mut a_hi) = (load(&ua[..4]), load(&ua[4..]));
        let (mut b_lo, mut b_hi) = (load(&ub[..4]), load(&ub[4..]));
        let (mut ta_lo, mut ta_hi, mut tb_lo, mut tb_hi) = (a_lo, a_hi, b_lo, b_hi);
        let mut left = rounds;
        while left > 0 {
            if cancelled(cancel) {
                return Err(Stop::Cancelled);
            }
            let n = left.min(POLL_EVERY);
            for _ in 0..n {
                let (x, y) = compress(i_abef, i_cdgh, a_lo, a_hi, pad_lo, pad_hi);
                let (p, q) = compress(i_abef, i_cdgh, b_lo, b_hi, pad_lo, pad_hi);
                let (ha_lo, ha_hi) = from_abef_cdgh(x, y);
                let (hb_lo, hb_hi) = from_abef_cdgh(p, q);
                let (x, y) = compress(o_abef, o_cdgh, ha_lo, ha_hi, pad_lo, pad_hi);
                let (p, q) = compress(o_abef, o_cdgh, hb_lo, hb_hi, pad_lo, pad_hi);
                (a_lo, a_hi) = from_abef_cdgh(x, y);
                (b_lo, b_hi) = from_abef_cdgh(p, q);
                ta_lo = _mm_xor_si128(ta_lo, a_lo);
                ta_hi = _mm_xor_si128(ta_hi, a_hi);
                tb_lo = _mm_xor_si128(tb_lo, b_lo);
                tb_hi = _mm_xor_si128(tb_hi, b_hi);
            }
            left -= n;
        }
        let (mut ta, mut tb) = ([0u32; 8], [0u32; 8]);
        store(&mut ta[..4], ta_lo);
        store(&mut ta[4..], ta_hi);
        store(&mut tb[..4], tb_lo);
        store(&mut tb[4..], tb_hi);
        Ok((ta, tb))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::sha256::sha_ni_supported;

    fn run(b: Backend, p: &[u8], s: &[u8], c: u32, len: usize) -> String {
        let mut out = vec![0u8; len];
        pbkdf2_hmac_sha256(b, p, s, c, &mut out, &AtomicBool::new(false)).unwrap();
        out.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn rfc7914_vectors() {
        let mut backends = vec![Backend::Portable];
        if sha_ni_supported() {
            backends.push(Backend::ShaNi);
        }
        for b in backends {
            assert_eq!(
                run(b, b"passwd", b"salt", 1, 64),
                "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
                 49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
            );
            assert_eq!(
                run(b, b"Password", b"NaCl", 80000, 64),
                "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56\
                 a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"
            );
        }
    }

    #[test]
    fn cancel_stops_early() {
        let mut out = [0u8; 32];
        let flag = AtomicBool::new(true);
        let r = pbkdf2_hmac_sha256(Backend::Portable, b"p", b"s", 1_000_000, &mut out, &flag);
        assert_eq!(r, Err(Stop::Cancelled));
    }
}
