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

    /// Allocates the file blocks of `[off, off + len)` before those bytes are handed out.
    pub fn commit(&self, off: usize, len: usize) -> Result<(), Errno> {
        let m = self.morsel();
        m.allocate_blocks(&self.source, m.base() + off, len).map(|_| ())
    }

    /// Copies `src` to pool offset `off`.
    ///
    /// # Safety
    /// `[off, off + src.len())` must lie in the pool, be committed, and be owned by the caller:
    /// no other thread reads or writes it meanwhile.
    pub unsafe fn write(&self, off: usize, src: &[u8]) {
        debug_assert!(off + src.len() <= self.size);
        // SAFETY: the range lies in the mapping (checked by the caller) and nobody else uses it.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), (self.base() + off) as *mut u8, src.len()) }
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

    /// Bytes of file blocks allocated (0 for a memfd that reports none).
    pub fn file_bytes(&self) -> u64 {
        self.source.file_bytes()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(m) = self.morsel.take() {
            // SAFETY: the cache that owns the pool is being dropped; no entry or reader is left.
            let _ = unsafe { m.unmap() };
        }
    }
}
