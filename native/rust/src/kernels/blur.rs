//! Separable box blur of an RGBA8 image, all four channels, edges clamped, `d = 2r + 1`:
//!
//! ```text
//! pass 1 (rows):    tmp[y][x][c] = ⌊( Σ_{k=-r..r} src[y][clamp(x+k, 0, w-1)][c] + r ) / d⌋
//! pass 2 (columns): out[y][x][c] = ⌊( Σ_{k=-r..r} tmp[clamp(y+k, 0, h-1)][x][c] + r ) / d⌋
//! ```
//!
//! Both passes keep running sums, so the cost does not depend on the radius. The column pass
//! works on whole rows: a row of column sums `acc` emits an output row, then adds tmp row
//! `y+r+1` and subtracts tmp row `y−r` — a straight loop over `4·width` lanes that vectorises.
//! The row pass is done lazily, one tmp row just before the column pass first needs it, into a
//! ring of `min(2r+2, h)` rows, so tmp stays cache-sized instead of being a second image.
//! Divisions are an exact multiply-shift (see [`Divider`]).

use super::{Stop, cancelled, try_zeroed};
use std::mem::MaybeUninit;
use std::sync::atomic::AtomicBool;

/// Exact `⌊n / d⌋` for every `0 ≤ n < 256·d`, as `(n · m) >> s` with `m` < 2^32, so that the
/// product is a 32×32→64-bit multiply (`pmuludq`) and vectorises.
///
/// With `s = ⌈log2(256·d²)⌉` and `m = ⌊2^s / d⌋ + 1`, write `m·d = 2^s + e`, `0 < e ≤ d`. Then
/// `n·m / 2^s = n/d + n·e / (d·2^s)`, and `n·e < 256·d·d ≤ 2^s`, so the extra term is below
/// `1/d` and cannot carry `n/d` past the next integer. `m < 2·256·d²/d + 1 = 512·d + 1`, far
/// below 2^32 for `d ≤ 131071`. (The README's `m = ⌊2^48/d⌋ + 1`, shift 48, is the same idea with
/// a larger constant that needs a 64×64 multiply; the results are identical.)
#[derive(Debug, Clone, Copy)]
pub struct Divider {
    m: u32,
    s: u32,
}

impl Divider {
    pub fn new(d: u32) -> Self {
        assert!((1..(1 << 20)).contains(&d), "blur: divisor out of range");
        let d2 = (d as u64) * (d as u64);
        // ⌈log2(d²)⌉ (0 for d = 1), plus 8 for the factor 256.
        let s = 8 + (64 - (d2 - 1).leading_zeros());
        let m = (1u64 << s) / d as u64 + 1;
        debug_assert!(m < (1 << 32));
        Divider { m: m as u32, s }
    }

    /// `⌊n / d⌋` for `n < 256·d`.
    #[inline(always)]
    pub fn div(self, n: u32) -> u32 {
        ((n as u64 * self.m as u64) >> self.s) as u32
    }
}

/// Blur `src` (`width·height·4` bytes) with `radius` into `out` (the same size; the caller
/// allocates it, so it can be memory Node will own). On `Ok`, every byte of `out` is written.
pub fn box_blur(
    src: &[u8],
    out: &mut [MaybeUninit<u8>],
    width: usize,
    height: usize,
    radius: usize,
    cancel: &AtomicBool,
) -> Result<(), Stop> {
    assert!(width >= 1 && height >= 1, "blur: empty image");
    assert!(radius <= 65535, "blur: radius too large");
    let row_len = width.checked_mul(4).expect("blur: width too large");
    let size = row_len.checked_mul(height).expect("blur: image too large");
    assert_eq!(
        src.len(),
        size,
        "blur: rgba length does not match width * height * 4"
    );
    assert_eq!(out.len(), size, "blur: output length does not match the input");

    if radius == 0 {
        for (o, &v) in out.iter_mut().zip(src) {
            o.write(v);
        }
        return Ok(());
    }

    let ring_rows = (2 * radius + 2).min(height);
    let mut ring = try_zeroed(ring_rows * row_len, "blur row buffer")?;
    let mut acc = try_u32s(row_len, "blur column sums")?;
    let mut sums = try_u32s(row_len, "blur row sums")?;
    let mut bufs = Buffers {
        src,
        out,
        ring: &mut ring,
        ring_rows,
        acc: &mut acc,
        sums: &mut sums,
        row_len,
        height,
        r: radius,
        div: Divider::new(2 * radius as u32 + 1),
    };

    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, the only requirement of `passes_avx2`.
        return unsafe { passes_avx2(&mut bufs, cancel) };
    }
    passes_generic(&mut bufs, cancel)
}

fn try_u32s(n: usize, what: &'static str) -> Result<Vec<u32>, Stop> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| Stop::OutOfMemory { what, bytes: n * 4 })?;
    v.resize(n, 0);
    Ok(v)
}

struct Buffers<'a> {
    src: &'a [u8],
    /// `row_len · height` bytes, written row by row.
    out: &'a mut [MaybeUninit<u8>],
    /// Pass-1 rows; tmp row `k` lives at slot `k % ring_rows`.
    ring: &'a mut [u8],
    ring_rows: usize,
    /// Column sums of the current window (pass 2).
    acc: &'a mut [u32],
    /// Scratch: window sums of one row (pass 1).
    sums: &'a mut [u32],
    row_len: usize,
    height: usize,
    r: usize,
    div: Divider,
}

fn passes_generic(b: &mut Buffers, cancel: &AtomicBool) -> Result<(), Stop> {
    passes(b, cancel)
}

/// The same code compiled for AVX2, so the straight loops over rows use 256-bit vectors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn passes_avx2(b: &mut Buffers, cancel: &AtomicBool) -> Result<(), Stop> {
    passes(b, cancel)
}

/// Both passes. Writes every byte of `b.out` unless it returns `Err`.
#[inline(always)]
fn passes(b: &mut Buffers, cancel: &AtomicBool) -> Result<(), Stop> {
    let (row_len, h, r, div) = (b.row_len, b.height, b.r, b.div);
    let last = h - 1;
    let ring_rows = b.ring_rows;
    let slot = |k: usize| (k % ring_rows) * row_len;
    let bias = r as u32;

    // Pass 1 for rows 0 ..= min(r, h−1): the first column window.
    let first = r.min(last);
    for k in 0..=first {
        if cancelled(cancel) {
            return Err(Stop::Cancelled);
        }
        let at = slot(k);
        row_pass(
            &b.src[k * row_len..(k + 1) * row_len],
            b.sums,
            &mut b.ring[at..at + row_len],
            r,
            div,
        );
    }
    // acc = (r+1)·tmp[0] + Σ tmp[1..=min(r, h−1)] + max(0, r−(h−1))·tmp[h−1]
    add_scaled(b.acc, &b.ring[slot(0)..slot(0) + row_len], r as u32 + 1, true);
    for k in 1..=first {
        add_scaled(b.acc, &b.ring[slot(k)..slot(k) + row_len], 1, false);
    }
    let extra = r.saturating_sub(last) as u32;
    if extra > 0 {
        add_scaled(b.acc, &b.ring[slot(last)..slot(last) + row_len], extra, false);
    }

    // Pass 2, one output row at a time, computing pass-1 rows as the window reaches them.
    let mut computed = first + 1;
    for y in 0..h {
        if cancelled(cancel) {
            return Err(Stop::Cancelled);
        }
        let out_row = &mut b.out[y * row_len..(y + 1) * row_len];
        if y == last {
            emit(b.acc, out_row, bias, div);
            break;
        }
        let add = (y + r + 1).min(last);
        let sub = y.saturating_sub(r);
        if add == computed {
            let at = slot(add);
            row_pass(
                &b.src[add * row_len..(add + 1) * row_len],
                b.sums,
                &mut b.ring[at..at + row_len],
                r,
                div,
            );
            computed += 1;
        }
        let (a, s) = (slot(add), slot(sub));
        column_step(
            b.acc,
            &b.ring[a..a + row_len],
            &b.ring[s..s + row_len],
            out_row,
            bias,
            div,
        );
    }
    Ok(())
}

/// acc = acc·(!reset) + k·row
#[inline(always)]
fn add_scaled(acc: &mut [u32], row: &[u8], k: u32, reset: bool) {
    let row = &row[..acc.len()];
    for (a, &v) in acc.iter_mut().zip(row) {
        *a = if reset { 0 } else { *a } + k * v as u32;
    }
}

/// Pass 1 over one row (`4·w` bytes of `src`) into `dst`, via the window sums in `sums`.
#[inline(always)]
fn row_pass(src: &[u8], sums: &mut [u32], dst: &mut [u8], r: usize, div: Divider) {
    window_sums(src, sums, r);
    let bias = r as u32;
    let dst = &mut dst[..sums.len()];
    for (o, &s) in dst.iter_mut().zip(sums.iter()) {
        *o = div.div(s + bias) as u8;
    }
}

/// `sums[4x+c]` = Σ_{k=-r..r} src[clamp(x+k, 0, w−1)][c], by a running sum along the row (the
/// four channels side by side).
#[inline(always)]
fn window_sums(src: &[u8], sums: &mut [u32], r: usize) {
    let w = src.len() / 4;
    let last = w - 1;
    let sums = &mut sums[..4 * w];
    let px = |x: usize| -> [u32; 4] {
        let p = &src[4 * x..4 * x + 4];
        [p[0] as u32, p[1] as u32, p[2] as u32, p[3] as u32]
    };
    // (r+1)·p[0] + Σ p[1..=min(r, w−1)] + max(0, r−(w−1))·p[w−1]
    let mut sum = px(0).map(|v| v * (r as u32 + 1));
    for x in 1..=r.min(last) {
        let p = px(x);
        for c in 0..4 {
            sum[c] += p[c];
        }
    }
    let extra = r.saturating_sub(last) as u32;
    if extra > 0 {
        let p = px(last);
        for c in 0..4 {
            sum[c] += extra * p[c];
        }
    }

    // The window of x is [x−r, x+r]; moving on adds x+r+1 and drops x−r (both clamped). In
    // the middle stretch neither end is clamped.
    let mid_lo = r.min(w);
    let mid_hi = w.saturating_sub(r + 1).max(mid_lo);
    let mut step = |x: usize, add: [u32; 4], sub: [u32; 4]| {
        sums[4 * x..4 * x + 4].copy_from_slice(&sum);
        for c in 0..4 {
            sum[c] = sum[c] + add[c] - sub[c];
        }
    };
    for x in 0..mid_lo {
        step(x, px((x + r + 1).min(last)), px(0));
    }
    for x in mid_lo..mid_hi {
        step(x, px(x + r + 1), px(x - r));
    }
    for x in mid_hi..w {
        step(x, px(last), px(x.saturating_sub(r)));
    }
}

/// out = ⌊(acc + bias) / d⌋ per lane.
#[inline(always)]
fn emit(acc: &[u32], out: &mut [MaybeUninit<u8>], bias: u32, div: Divider) {
    let out = &mut out[..acc.len()];
    for (o, &a) in out.iter_mut().zip(acc) {
        o.write(div.div(a + bias) as u8);
    }
}

/// One output row of pass 2, then slide the window down: out = ⌊(acc + bias)/d⌋;
/// acc += add − sub.
#[inline(always)]
fn column_step(
    acc: &mut [u32],
    add: &[u8],
    sub: &[u8],
    out: &mut [MaybeUninit<u8>],
    bias: u32,
    div: Divider,
) {
    let n = acc.len();
    let (add, sub, out) = (&add[..n], &sub[..n], &mut out[..n]);
    for i in 0..n {
        let a = acc[i];
        out[i].write(div.div(a + bias) as u8);
        acc[i] = a + add[i] as u32 - sub[i] as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::Divider;

    #[test]
    fn divider_is_exact() {
        // Exhaustive for small divisors, every quotient boundary for all of them.
        for d in 1..=131071u32 {
            let div = Divider::new(d);
            if d <= 600 {
                for n in 0..256 * d {
                    assert_eq!(div.div(n), n / d, "n={n} d={d}");
                }
            } else {
                for q in 1..=256u32 {
                    for n in [q * d - 1, q * d, q * d - d / 2] {
                        if n < 256 * d {
                            assert_eq!(div.div(n), n / d, "n={n} d={d}");
                        }
                    }
                }
            }
        }
    }
}
