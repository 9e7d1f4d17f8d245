//! The pool: one morsel of an unnamed file (or a memfd), mapped naturally aligned so that a DAX
//! filesystem maps it with 2 MiB (or 1 GiB) entries. Its bytes are handed out only once their
//! file blocks are allocated (`commit`), so a full filesystem is an error, never SIGBUS.
//! This module owns the mapping and is the only one that touches its bytes.

use std::path::Path;

use morsel::{Errno, Morsel, Order, Source, GRANULE_SIZE, PAGE_SIZE};

/// A mapped pool of `size` usable bytes.
pub struct Pool {
    source: Source,
    morsel: Option<Morsel>,
    size: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("size", &self.size).field("morsel", &self.morsel).finish()
    }
}

impl Pool {
    /// Maps a pool of `size` bytes (a multiple of the page size) in an unnamed file in `dir`, or
    /// in a memfd where `dir` is `None`. Nothing is committed yet.
    pub fn new(dir: Option<&Path>, size: usize) -> Result<Pool, Errno> {
        let source = match dir {
            Some(d) => Source::tmpfile(d)?,
            None => Source::memfd("morselcache")?,
        };
        let (order, len) = if size >= GRANULE_SIZE {
            (Order::Pmd, size.div_ceil(GRANULE_SIZE) * GRANULE_SIZE)
        } else {
            (Order::Page, size.div_ceil(PAGE_SIZE) * PAGE_SIZE)
        };
        // Naturally aligned: the largest power of two not above the length, at most 1 GiB.
        let align =
            (1usize << (usize::BITS - 1 - len.leading_zeros())).clamp(order.size(), Order::Pud.size());
        let morsel = Morsel::create(&source, order, len, align)?;
        Ok(Pool { source, morsel: Some(morsel), size })
    }

    fn morsel(&self) -> &Morsel {
        self.morsel.as_ref().expect("the pool is mapped until dropped")
    }

    /// Usable bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The backing: `"file"` or `"memfd"`.
    pub fn backing(&self) -> morsel::Backing {
        self.source.backing()
    }

    /// The pool's first address.
    pub fn base(&self) -> usize {
        self.morsel().base()
    }

    /// Allocates the file blocks of `[off, off + len)` before those bytes are handed out, and
    /// maps them in one call (`Morsel::populate`: a step of the heap is 2 MiB, 512 page faults
    /// on a pool of small pages, which the puts filling it would otherwise take one by one).
    pub fn commit(&self, off: usize, len: usize) -> Result<(), Errno> {
        let m = self.morsel();
        m.populate(&self.source, m.base() + off, len).map(|_| ())
    }

    /// Copies `src` to pool offset `off`.
    ///
    /// # Safety
    /// `[off, off + src.len())` must lie in the pool, be committed, and be owned by the caller:
    /// no other thread reads or writes it meanwhile.
    pub unsafe fn write(&self, off: usize, src: &[u8]) {
        debug_assert!(off + src.len() <= self.size);
        let dst = (self.base() + off) as *mut u8;
        if src.len() >= STREAM_MIN {
            // SAFETY: as below; `stream_copy` writes exactly `src.len()` bytes at `dst`.
            unsafe { stream_copy(dst, src) };
            return;
        }
        // SAFETY: the range lies in the mapping (checked by the caller) and nobody else uses it.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) }
    }

    /// Copies pool bytes from offset `off` into `dst`.
    ///
    /// # Safety
    /// `[off, off + dst.len())` must lie in the pool, be committed, and hold a value that no
    /// thread writes meanwhile (the caller holds a reference to its entry).
    pub unsafe fn read(&self, off: usize, dst: &mut [u8]) {
        debug_assert!(off + dst.len() <= self.size);
        // SAFETY: as the caller vouches; `dst` is a distinct Rust buffer, so no overlap.
        unsafe {
            std::ptr::copy_nonoverlapping((self.base() + off) as *const u8, dst.as_mut_ptr(), dst.len())
        }
    }

    /// Starts loading `[off, off + len)` into the caches ahead of a `read`: the first lines of
    /// each 4 KiB page it covers. The hardware prefetchers follow a stream within a page but do
    /// not cross into the next one, and each page of a pool on small pages is a TLB miss of its
    /// own; touching every page up front overlaps those misses (and the page walks) instead of
    /// taking them one after another as the copy reaches each page. Never faults, changes
    /// nothing: a hint.
    pub fn prefetch(&self, off: usize, len: usize) {
        debug_assert!(off + len <= self.size);
        if len == 0 {
            return;
        }
        let (start, end) = (self.base() + off, self.base() + off + len);
        let mut page = start & !(PREFETCH_PAGE - 1);
        while page < end {
            let first = page.max(start & !63);
            let last = (page + PREFETCH_PAGE).min(end);
            let mut line = first;
            for _ in 0..PREFETCH_LINES {
                if line >= last {
                    break;
                }
                prefetch_line(line);
                line += 64;
            }
            page += PREFETCH_PAGE;
        }
    }

    /// Bytes of file blocks allocated (0 for a memfd that reports none).
    pub fn file_bytes(&self) -> u64 {
        self.source.file_bytes()
    }
}

/// The span the hardware prefetchers stop at, and the lines `Pool::prefetch` asks for in each.
const PREFETCH_PAGE: usize = 4096;
const PREFETCH_LINES: usize = 3;

/// Asks for the cache line at `addr` (a hint: an address outside any mapping is ignored).
#[cfg(target_arch = "x86_64")]
fn prefetch_line(addr: usize) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    // SAFETY: a prefetch neither faults nor changes memory, whatever the address; SSE is part
    // of x86_64.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(addr as *const i8) }
}

/// Elsewhere, nothing.
#[cfg(not(target_arch = "x86_64"))]
fn prefetch_line(_addr: usize) {}

/// Values from this size on are written with non-temporal stores. A put writes a value that
/// is not read again soon, into pool memory that is not in any cache: ordinary stores first
/// read every line they write (for ownership) and then evict something useful for it. Streaming
/// stores skip both: 7 µs against 13-15 µs per 32 KiB value written to random places of a
/// 256 MiB pool on this machine. Below a few lines the difference is nothing.
const STREAM_MIN: usize = 1024;

/// Copies `src` to `dst` with non-temporal stores where the target has them (x86_64: SSE2,
/// always present), then fences them, so that a reader that takes the cache's lock after this
/// writer sees the bytes (streaming stores are weakly ordered).
///
/// # Safety
/// `dst` is valid for `src.len()` bytes of writes and does not overlap `src`.
#[cfg(target_arch = "x86_64")]
unsafe fn stream_copy(dst: *mut u8, src: &[u8]) {
    use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_sfence, _mm_stream_si128};
    let n = src.len();
    // The head, up to 16-byte alignment of the destination, and the tail: ordinary copies.
    let head = dst.align_offset(16).min(n);
    let body = (n - head) & !63;
    // SAFETY: every range below lies inside `src` and `[dst, dst + n)`, as the caller vouches;
    // the streamed stores are 16-byte aligned (`head` aligns them) and SSE2 is part of x86_64.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), dst, head);
        let (s, d) = (src.as_ptr().add(head), dst.add(head));
        let mut i = 0;
        while i < body {
            let a = _mm_loadu_si128(s.add(i) as *const __m128i);
            let b = _mm_loadu_si128(s.add(i + 16) as *const __m128i);
            let c = _mm_loadu_si128(s.add(i + 32) as *const __m128i);
            let e = _mm_loadu_si128(s.add(i + 48) as *const __m128i);
            _mm_stream_si128(d.add(i) as *mut __m128i, a);
            _mm_stream_si128(d.add(i + 16) as *mut __m128i, b);
            _mm_stream_si128(d.add(i + 32) as *mut __m128i, c);
            _mm_stream_si128(d.add(i + 48) as *mut __m128i, e);
            i += 64;
        }
        _mm_sfence();
        std::ptr::copy_nonoverlapping(s.add(body), d.add(body), n - head - body);
    }
}

/// Elsewhere, an ordinary copy.
///
/// # Safety
/// As for the x86_64 version.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn stream_copy(dst: *mut u8, src: &[u8]) {
    // SAFETY: as the caller vouches.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(m) = self.morsel.take() {
            // SAFETY: the cache that owns the pool is being dropped; no entry or reader is left.
            let _ = unsafe { m.unmap() };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::stream_copy;

    #[test]
    fn stream_copy_copies_every_length_and_alignment() {
        let src: Vec<u8> = (0..9000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut dst = vec![0u8; 9100];
        for dst_at in [0, 1, 15, 16, 33] {
            for src_at in [0, 5, 16] {
                for len in [0, 1, 15, 16, 63, 64, 65, 1023, 1024, 4097, 8191] {
                    dst.fill(0xee);
                    let s = &src[src_at..src_at + len];
                    // SAFETY: `dst` has room for `len` bytes at `dst_at`; distinct vectors.
                    unsafe { stream_copy(dst.as_mut_ptr().add(dst_at), s) };
                    assert_eq!(&dst[dst_at..dst_at + len], s, "dst+{dst_at} src+{src_at} len {len}");
                    assert!(dst[..dst_at].iter().all(|&b| b == 0xee), "wrote before the range");
                    assert!(dst[dst_at + len..].iter().all(|&b| b == 0xee), "wrote past the range");
                }
            }
        }
    }
}
