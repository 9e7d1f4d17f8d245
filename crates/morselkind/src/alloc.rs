//! `KindAlloc`: a kind as a Rust allocator, both `GlobalAlloc` (the whole program on a kind)
//! and allocator-api2's `Allocator` (`Vec::new_in`, `Box::new_in`, hashbrown).
//!
//! While a kind is being set up (on first use), the setup itself allocates; those nested
//! requests are served from [`MetaAlloc`] (morselkind's own anonymous pages) instead of
//! recursing into the kind, and `dealloc` sends each pointer back to where the directory says
//! it came from: a kind's block to its kind, any other to `MetaAlloc`.
//!
//! A `with_init` whose init fails is not retried: the error is kept ([`KindAlloc::init_error`]),
//! one line on stderr says why, and the allocator serves from `Kind::DEFAULT` (DRAM) from then
//! on.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use allocator_api2::alloc::{AllocError, Allocator};

use crate::error::{Error, Result};
use crate::kind::{Kind, KindInner};
use crate::meta::MetaAlloc;

thread_local! {
    static IN_SETUP: Cell<bool> = const { Cell::new(false) };
}

/// jemalloc aligns every block of at least 16 bytes to 16.
const NATURAL_ALIGN: usize = 16;

/// A kind as a Rust allocator: `GlobalAlloc`, so a whole program can run on a kind, and
/// allocator-api2's `Allocator` (a [`Kind`] is one too).
///
/// ```
/// use morselkind::{Kind, KindAlloc};
///
/// #[global_allocator] // every allocation of the program on a kind
/// static GLOBAL: KindAlloc = KindAlloc::new(Kind::DEFAULT);
///
/// let v = vec![1u32, 2, 3];
/// assert_eq!(Kind::detect(v.as_ptr().cast()), Some(Kind::DEFAULT));
/// ```
pub struct KindAlloc {
    kind: AtomicPtr<KindInner>,
    init: Option<fn() -> Result<Kind>>,
    /// Why `init` failed ([`Error::to_bits`]), 0 if it has not.
    failed: AtomicU64,
}

impl KindAlloc {
    /// An allocator over `kind`.
    ///
    /// ```
    /// use morselkind::allocator_api2::vec::Vec;
    /// use morselkind::{Kind, KindAlloc};
    ///
    /// let huge = KindAlloc::new(Kind::HUGE);
    /// let mut v = Vec::new_in(&huge);
    /// v.resize(1 << 20, 0u8);
    /// // HUGE is served where the machine has transparent huge pages, else it is unavailable.
    /// if Kind::HUGE.ready().is_ok() {
    ///     assert_eq!(Kind::detect(v.as_ptr()), Some(Kind::HUGE));
    /// }
    /// ```
    pub const fn new(kind: Kind) -> KindAlloc {
        KindAlloc {
            kind: AtomicPtr::new(kind.as_ptr() as *mut KindInner),
            init: None,
            failed: AtomicU64::new(0),
        }
    }

    /// An allocator whose kind is made by `init` on first use (for `#[global_allocator]`,
    /// where a dynamic kind cannot be made in a constant).
    ///
    /// If `init` fails it is not called again: the allocator keeps the error
    /// ([`KindAlloc::init_error`]), writes one `MORSELKIND_WARNING` line on stderr saying why,
    /// and allocates from [`Kind::DEFAULT`] (DRAM) from then on.
    ///
    /// ```
    /// use std::path::Path;
    /// use morselkind::allocator_api2::boxed::Box;
    /// use morselkind::{Error, Kind, KindAlloc, PmemConfig};
    ///
    /// static IN_TMP: KindAlloc =
    ///     KindAlloc::with_init(|| Kind::pmem(&PmemConfig::new(&std::env::temp_dir())));
    /// static MISSING: KindAlloc =
    ///     KindAlloc::with_init(|| Kind::pmem(&PmemConfig::new(Path::new("/no/such/dir"))));
    ///
    /// let b = Box::new_in(42u64, &IN_TMP);
    /// assert_eq!(Kind::detect((&*b as *const u64).cast()), IN_TMP.kind());
    /// assert_eq!(IN_TMP.init_error(), None);
    ///
    /// // "MORSELKIND_WARNING: KindAlloc::with_init: ... No such file or directory (ENOENT); ..."
    /// let b = Box::new_in(42u64, &MISSING);
    /// assert_eq!(Kind::detect((&*b as *const u64).cast()), Some(Kind::DEFAULT));
    /// assert_eq!(MISSING.init_error(), Some(Error::Directory(libc::ENOENT)));
    /// assert_eq!(MISSING.kind(), Some(Kind::DEFAULT));
    /// ```
    pub const fn with_init(init: fn() -> Result<Kind>) -> KindAlloc {
        KindAlloc { kind: AtomicPtr::new(std::ptr::null_mut()), init: Some(init), failed: AtomicU64::new(0) }
    }

    /// Why the `init` of [`KindAlloc::with_init`] failed, if it was called and failed (the
    /// allocator then serves from [`Kind::DEFAULT`]). `None` for [`KindAlloc::new`].
    pub fn init_error(&self) -> Option<Error> {
        Error::from_bits(self.failed.load(Ordering::Acquire))
    }

    /// The kind allocations come from, making it if needed: [`Kind::DEFAULT`] if `init`
    /// failed, `None` while it is being made.
    #[inline]
    pub fn kind(&self) -> Option<Kind> {
        let p = self.kind.load(Ordering::Acquire);
        if !p.is_null() {
            return Kind::from_ptr(p);
        }
        self.kind_slow()
    }

    #[cold]
    fn kind_slow(&self) -> Option<Kind> {
        let init = self.init?;
        if IN_SETUP.with(|s| s.replace(true)) {
            return None;
        }
        // Two threads may race to make it; the loser destroys its copy.
        let made = init();
        IN_SETUP.with(|s| s.set(false));
        let made = match made {
            Ok(k) => k,
            Err(e) => return Some(self.fall_back(e)),
        };
        match self.kind.compare_exchange(
            std::ptr::null_mut(),
            made.as_ptr() as *mut KindInner,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Some(made),
            Err(winner) => {
                // SAFETY: `made` was never handed out.
                let _ = unsafe { made.destroy() };
                Kind::from_ptr(winner)
            }
        }
    }

    /// `init` failed: DRAM from now on, the error kept and said once. The fallback is
    /// published before the message is formatted, so the formatting's own allocations are
    /// served by it.
    #[cold]
    fn fall_back(&self, e: Error) -> Kind {
        let default = Kind::DEFAULT.as_ptr() as *mut KindInner;
        self.failed.store(e.to_bits(), Ordering::Release);
        match self.kind.compare_exchange(std::ptr::null_mut(), default, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                let text = format!(
                    "MORSELKIND_WARNING: KindAlloc::with_init: making the kind failed ({e}; \
                     MEMKIND_ERROR code {}); allocating from Kind::DEFAULT (DRAM) from now on\n",
                    e.code()
                );
                morsel::sys::write_stderr(&[text.as_bytes()]);
                Kind::DEFAULT
            }
            // Another thread made it meanwhile (or fell back first): use what it published.
            Err(winner) => {
                if winner != default {
                    self.failed.store(0, Ordering::Release);
                }
                Kind::from_ptr(winner).unwrap_or(Kind::DEFAULT)
            }
        }
    }

    fn allocate_raw(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        let Some(kind) = self.kind().filter(|_| !IN_SETUP.with(|s| s.get())) else {
            return self.meta(layout, zeroed);
        };
        if !kind.is_live() {
            IN_SETUP.with(|s| s.set(true));
            let ready = kind.ready();
            IN_SETUP.with(|s| s.set(false));
            if ready.is_err() {
                return std::ptr::null_mut();
            }
        }
        let r = match (layout.align() <= NATURAL_ALIGN && layout.size() >= layout.align(), zeroed) {
            (true, false) => kind.malloc(layout.size()),
            (true, true) => kind.calloc(1, layout.size()),
            (false, _) => kind.aligned(layout.align(), layout.size()).inspect(|p| {
                if zeroed {
                    // SAFETY: a fresh block of at least `size` bytes.
                    unsafe { p.as_ptr().write_bytes(0, layout.size()) }
                }
            }),
        };
        r.map_or(std::ptr::null_mut(), |p| p.as_ptr())
    }

    fn meta(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        let r = if zeroed { MetaAlloc.allocate_zeroed(layout) } else { MetaAlloc.allocate(layout) };
        r.map_or(std::ptr::null_mut(), |p| p.as_ptr().cast())
    }

    /// Frees a block from `allocate_raw`.
    ///
    /// # Safety
    /// `ptr` must come from this allocator with `layout`.
    unsafe fn free_raw(&self, ptr: *mut u8, layout: Layout) {
        let Some(p) = NonNull::new(ptr) else { return };
        match Kind::detect(ptr) {
            // SAFETY: the directory says the block is this kind's.
            Some(kind) => unsafe { kind.free(p) },
            // SAFETY: not in any kind, so it came from `meta`.
            None => unsafe { MetaAlloc.deallocate(p, layout) },
        }
    }
}

// SAFETY: blocks come from the kind (or, during setup, from `MetaAlloc`) with at least the
// layout's size and alignment, and stay valid until freed.
unsafe impl GlobalAlloc for KindAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocate_raw(layout, false)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.allocate_raw(layout, true)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { self.free_raw(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (Some(p), Some(kind)) = (NonNull::new(ptr), Kind::detect(ptr)) else {
            // Setup-time block (or null): move it by hand.
            // SAFETY: the new layout is valid (GlobalAlloc's contract).
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            let fresh = self.allocate_raw(new_layout, false);
            if !fresh.is_null() && !ptr.is_null() {
                // SAFETY: both blocks are live and at least min(old, new) long.
                unsafe {
                    fresh.copy_from_nonoverlapping(ptr, layout.size().min(new_size));
                    self.free_raw(ptr, layout);
                }
            }
            return fresh;
        };
        if layout.align() > NATURAL_ALIGN {
            // rallocx keeps alignment only when asked; do it by hand for over-aligned blocks.
            // SAFETY: the new layout is valid (GlobalAlloc's contract).
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            let fresh = self.allocate_raw(new_layout, false);
            if !fresh.is_null() {
                // SAFETY: both blocks are live and at least min(old, new) long.
                unsafe {
                    fresh.copy_from_nonoverlapping(ptr, layout.size().min(new_size));
                    kind.free(p);
                }
            }
            return fresh;
        }
        // SAFETY: `p` is a live block of `kind`.
        unsafe { kind.realloc(p, new_size) }.map_or(std::ptr::null_mut(), |p| p.as_ptr())
    }
}

// SAFETY: as for GlobalAlloc; zero-size requests get a dangling, well-aligned pointer that
// `deallocate` ignores.
unsafe impl Allocator for KindAlloc {
    fn allocate(&self, layout: Layout) -> std::result::Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            let dangling = NonNull::new(layout.align() as *mut u8).ok_or(AllocError)?;
            return Ok(NonNull::slice_from_raw_parts(dangling, 0));
        }
        let p = NonNull::new(self.allocate_raw(layout, false)).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(p, layout.size()))
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: forwarded from the caller.
            unsafe { self.free_raw(ptr.as_ptr(), layout) }
        }
    }
}

// SAFETY: as for KindAlloc, which this forwards to.
unsafe impl Allocator for Kind {
    fn allocate(&self, layout: Layout) -> std::result::Result<NonNull<[u8]>, AllocError> {
        KindAlloc::new(*self).allocate(layout)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { KindAlloc::new(*self).deallocate(ptr, layout) }
    }
}
