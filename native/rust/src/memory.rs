//! Native byte buffers for large inputs and outputs (async input copies, blur images).
//!
//! On Linux, buffers of 1 MiB or more are their own anonymous mapping, 2 MiB aligned, with
//! transparent huge pages requested (`MADV_HUGEPAGE`): a fresh 4 MiB image then costs two page
//! faults instead of a thousand, which on virtualised hosts is most of a blur's wall time.
//! Smaller buffers, and other platforms, use Rust's global allocator. (The C++ addon does the
//! same in native/cpp/memory.cc, so the two compare like for like.)
//!
//! The three libc calls used are declared here, by hand, like Node-API in `napi.rs`.

use std::mem::MaybeUninit;
use std::ptr::NonNull;

/// From this size on a buffer gets its own huge-page mapping.
const MAP_THRESHOLD: usize = 1 << 20;
const HUGE_PAGE: usize = 2 << 20;

/// An owned, fixed-size byte buffer whose contents may not be initialised yet.
pub struct Uninit {
    ptr: NonNull<u8>,
    len: usize,
    /// Length of the mapping `ptr` starts, or 0 when it comes from the global allocator.
    mapped: usize,
}

/// An owned, initialised, fixed-size byte buffer.
pub struct Bytes(Uninit);

// SAFETY: the buffers are plain owned memory, like `Box<[u8]>`.
unsafe impl Send for Uninit {}
unsafe impl Sync for Uninit {}

impl Uninit {
    /// `len` bytes, or `None` if the memory cannot be had.
    pub fn new(len: usize) -> Option<Uninit> {
        if len == 0 {
            return Some(Uninit {
                ptr: NonNull::dangling(),
                len: 0,
                mapped: 0,
            });
        }
        if len >= MAP_THRESHOLD {
            if let Some((ptr, mapped)) = sys::map_huge(len) {
                return Some(Uninit { ptr, len, mapped });
            }
        }
        let layout = std::alloc::Layout::array::<u8>(len).ok()?;
        // SAFETY: non-zero size.
        let ptr = NonNull::new(unsafe { std::alloc::alloc(layout) })?;
        Some(Uninit { ptr, len, mapped: 0 })
    }

    pub fn as_uninit_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: `len` bytes owned by us; `MaybeUninit` needs no initialisation.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().cast(), self.len) }
    }

    /// # Safety
    /// Every byte has been written.
    pub unsafe fn assume_init(self) -> Bytes {
        Bytes(self)
    }
}

impl Drop for Uninit {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        if self.mapped != 0 {
            // SAFETY: the mapping we made in `new`.
            unsafe { sys::unmap(self.ptr, self.mapped) };
        } else {
            let layout = std::alloc::Layout::array::<u8>(self.len).expect("layout was valid when allocated");
            // SAFETY: allocated in `new` with this layout.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout) };
        }
    }
}

impl Bytes {
    /// A copy of `src`, or `None` if the memory cannot be had.
    pub fn copy_of(src: &[u8]) -> Option<Bytes> {
        let buf = Uninit::new(src.len())?;
        // SAFETY: `buf` has exactly `src.len()` bytes and does not overlap `src`.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), buf.ptr.as_ptr(), src.len()) };
        // SAFETY: fully written just above.
        Some(unsafe { buf.assume_init() })
    }

    /// Give up ownership: the data pointer, its length, and a token for [`Bytes::from_raw`].
    pub fn into_raw(self) -> (*mut u8, usize, usize) {
        let this = std::mem::ManuallyDrop::new(self);
        (this.0.ptr.as_ptr(), this.0.len, this.0.mapped)
    }

    /// # Safety
    /// The three values come from one [`Bytes::into_raw`], and are used once.
    pub unsafe fn from_raw(ptr: *mut u8, len: usize, mapped: usize) -> Bytes {
        let ptr = if len == 0 {
            NonNull::dangling()
        } else {
            NonNull::new(ptr).expect("non-null buffer")
        };
        Bytes(Uninit { ptr, len, mapped })
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `len` initialised bytes owned by us.
        unsafe { std::slice::from_raw_parts(self.0.ptr.as_ptr(), self.0.len) }
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
mod sys {
    use super::HUGE_PAGE;
    use std::ffi::{c_int, c_long, c_void};
    use std::ptr::NonNull;

    // <sys/mman.h>, Linux generic values (x86_64 and aarch64 alike).
    const PROT_READ: c_int = 0x1;
    const PROT_WRITE: c_int = 0x2;
    const MAP_PRIVATE: c_int = 0x02;
    const MAP_ANONYMOUS: c_int = 0x20;
    const MADV_HUGEPAGE: c_int = 14;
    const MAP_FAILED: *mut c_void = !0usize as *mut c_void;

    unsafe extern "C" {
        fn mmap(
            addr: *mut c_void,
            length: usize,
            prot: c_int,
            flags: c_int,
            fd: c_int,
            offset: c_long,
        ) -> *mut c_void;
        fn munmap(addr: *mut c_void, length: usize) -> c_int;
        fn madvise(addr: *mut c_void, length: usize, advice: c_int) -> c_int;
    }

    /// A 2 MiB-aligned private mapping of at least `len` bytes with huge pages requested:
    /// (start, mapping length). Over-maps by one huge page and trims both ends to align.
    pub fn map_huge(len: usize) -> Option<(NonNull<u8>, usize)> {
        let length = len.checked_add(HUGE_PAGE - 1)? & !(HUGE_PAGE - 1);
        let raw_length = length.checked_add(HUGE_PAGE)?;
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let raw = unsafe {
            mmap(
                std::ptr::null_mut(),
                raw_length,
                PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if raw == MAP_FAILED || raw.is_null() {
            return None;
        }
        let begin = raw as usize;
        let aligned = (begin + HUGE_PAGE - 1) & !(HUGE_PAGE - 1);
        let end = begin + raw_length;
        // SAFETY: both trimmed pieces lie inside the mapping just made and outside what we keep.
        unsafe {
            if aligned > begin {
                munmap(raw, aligned - begin);
            }
            if end > aligned + length {
                munmap((aligned + length) as *mut c_void, end - (aligned + length));
            }
            // Advice only: without THP the mapping simply uses small pages.
            madvise(aligned as *mut c_void, length, MADV_HUGEPAGE);
        }
        NonNull::new(aligned as *mut u8).map(|p| (p, length))
    }

    /// # Safety
    /// `(ptr, length)` is a mapping from [`map_huge`], unmapped once.
    pub unsafe fn unmap(ptr: NonNull<u8>, length: usize) {
        unsafe { munmap(ptr.as_ptr().cast(), length) };
    }
}

#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
mod sys {
    use std::ptr::NonNull;

    pub fn map_huge(_len: usize) -> Option<(NonNull<u8>, usize)> {
        None
    }

    pub unsafe fn unmap(_ptr: NonNull<u8>, _length: usize) {
        unreachable!("nothing is mapped on this platform")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_large_and_empty_buffers_round_trip() {
        for len in [0, 1, 4096, MAP_THRESHOLD - 1, MAP_THRESHOLD, 3 * HUGE_PAGE + 5] {
            let src: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let copy = Bytes::copy_of(&src).unwrap();
            assert_eq!(&*copy, &src[..]);
            let (ptr, n, token) = copy.into_raw();
            let back = unsafe { Bytes::from_raw(ptr, n, token) };
            assert_eq!(&*back, &src[..]);

            let mut out = Uninit::new(len).unwrap();
            for b in out.as_uninit_mut() {
                b.write(7);
            }
            let out = unsafe { out.assume_init() };
            assert!(out.iter().all(|&b| b == 7));
        }
    }
}
