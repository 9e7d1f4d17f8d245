//! The heap calls: malloc, calloc, realloc, aligned allocation, free, usable size, detect.
//!
//! A kind's memory comes from its own arenas (`MALLOCX_ARENA`). A pointer finds its kind through
//! the directory, so `free`, `realloc` and `usable_size` accept no kind at all; a pointer that
//! is not ours goes to the C library, never into jemalloc.

use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, Ordering};

use tikv_jemalloc_sys as je;

use crate::cache;
use crate::directory;
use crate::error::{Error, Result};
use crate::je as je_ctl;
use crate::kind::{Kind, KindInner};
use crate::tls::{ThreadWord, TlsDescriptor};

/// Allocations at least this large are populated at once in eager kinds.
const EAGER_MIN: usize = 64 << 10;

thread_local! {
    /// Whether this thread's jemalloc arena is one of DEFAULT's (see `default_ready`).
    static DEFAULT_BOUND: Cell<bool> = const { Cell::new(false) };
}

/// DEFAULT's small blocks go through our thread caches like every kind's (fewer instructions
/// per call than jemalloc's prefixed `malloc`: 189 against 229 per malloc/free pair under
/// callgrind), with jemalloc's implicit thread cache behind ours for their misses
/// (`cache::alloc_behind`); its larger ones take jemalloc's own `malloc`/`free` with that cache,
/// as memkind's DEFAULT does: each thread is associated once with one of DEFAULT's
/// arenas, whose extents come from DEFAULT's morsels like every kind's. Only DEFAULT ever uses
/// the implicit thread cache (other kinds and our bookkeeping pass MALLOCX_TCACHE_NONE or their
/// own caches), so it only ever holds DEFAULT blocks. Returns false where the thread cannot be
/// bound (its thread-locals are gone): the caller then goes through the explicit-arena path.
#[inline(always)]
fn default_ready() -> bool {
    match DEFAULT_BOUND.try_with(|b| b.get()) {
        Ok(true) => true,
        Ok(false) => bind_default(),
        Err(_) => false,
    }
}

/// Whether the thread is already bound to DEFAULT's arena (never binds it).
#[inline(always)]
fn default_bound() -> bool {
    DEFAULT_BOUND.try_with(|b| b.get()).unwrap_or(false)
}

/// Binds the thread to one of DEFAULT's arenas, and makes its cache of DEFAULT's small blocks
/// (a thread whose first DEFAULT call is large would otherwise take every small block from
/// jemalloc's cache on [`Kind::malloc_fast`]'s miss path and never fill its own).
#[cold]
fn bind_default() -> bool {
    let ok = je_ctl::set_thread_arena(Kind::DEFAULT.arena());
    cache::make(Kind::DEFAULT);
    ok && DEFAULT_BOUND.try_with(|b| b.set(true)).is_ok()
}
/// Explicit arena, no jemalloc thread cache: every kind's uncached path. (DEFAULT's blocks
/// may come back through it too: jemalloc frees any block into its own arena.)
#[inline]
fn arena_flags(kind: Kind) -> libc::c_int {
    je::MALLOCX_ARENA(kind.arena() as usize) | je::MALLOCX_TCACHE_NONE
}

/// The flags our thread cache fills and flushes a kind's bins with: 0 for DEFAULT on a thread
/// bound to DEFAULT's arena (through jemalloc's implicit thread cache, which holds DEFAULT
/// blocks only: see [`default_ready`]), else [`arena_flags`]. A batch of a thousand small
/// blocks allocated and then freed overflows our bins every few dozen calls; jemalloc's thread
/// cache takes those overflows at its own fast path's cost and moves blocks to and from the
/// arena a slab at a time, where the arena path locks the arena's bin for every block.
#[inline]
fn cache_flags(kind: Kind) -> libc::c_int {
    if kind.is_default() && default_ready() {
        0
    } else {
        arena_flags(kind)
    }
}

/// A DEFAULT block from jemalloc's own `malloc`/`calloc` (sizes above the thread cache's):
/// its page's tag is cleared, since the page may have held cached blocks of a class before,
/// and a stale class would send this block to that class's bin when it is freed.
#[inline]
fn default_block(p: *mut libc::c_void) -> Result<NonNull<u8>> {
    let p = NonNull::new(p).ok_or(Error::OutOfMemory)?;
    directory::set_tag(p.as_ptr() as usize, 0);
    Ok(p.cast())
}

/// Runs an allocation; when it fails, gives back freed memory that could serve it (see
/// [`reclaim`]) and tries once more.
/// Every block handed out here bypasses the thread cache, so its page's tag says "ask
/// jemalloc" (see `directory`).
#[inline]
fn with_retry(kind: Kind, f: impl Fn() -> *mut libc::c_void) -> Result<NonNull<u8>> {
    let tagged = |p: *mut libc::c_void| {
        NonNull::new(p).map(|p| {
            directory::set_tag(p.as_ptr() as usize, 0);
            p.cast()
        })
    };
    if let Some(p) = tagged(f()) {
        return Ok(p);
    }
    if reclaim(kind) {
        if let Some(p) = tagged(f()) {
            return Ok(p);
        }
    }
    Err(Error::OutOfMemory)
}

/// After a failed allocation of `kind`: gives back what could serve it and says whether a
/// retry is worth it.
/// - A full filesystem (a commit of `kind` met ENOSPC or EDQUOT), at most once per back-off
///   window of the kind (see `Provider::reclaim_ready`): every kind whose file is on
///   that filesystem (same st_dev) purges the freed extents of all its arenas, which punches
///   their space out of its file, and the calling thread's caches of those kinds are flushed
///   first. Blocks in other threads' caches are not reclaimed: those caches belong to running
///   threads, and reaching into them would put a lock on every cached free; they are bounded
///   (a few bins per thread and kind) and go back when their thread flushes or exits.
/// - A full size-limited kind: its own freed extents and this thread's cache of it, likewise.
///
/// This runs from the allocation call, never inside an extent hook or under a provider's
/// lock: a purge calls the decommit hook, which takes the provider's locks itself.
#[cold]
#[inline(never)]
fn reclaim(kind: Kind) -> bool {
    let full = kind.provider().filter(|p| p.reclaim_ready()).and_then(|p| p.source().dev());
    if let Some(dev) = full {
        for k in crate::kind::live_kinds().filter(|k| k.source().and_then(|s| s.dev()) == Some(dev)) {
            crate::cache::flush(k);
            k.purge();
            if let Some(p) = k.provider() {
                p.clear_full();
            }
        }
        return true;
    }
    if kind.is_limited() {
        crate::cache::flush(kind);
        kind.purge();
        return true;
    }
    false
}

/// Runs an allocation's slow path and, when it succeeds, leaves errno as it found it: the
/// system calls a slow path may make (a reservation that falls back to a smaller one under
/// RLIMIT_AS, a commit retried after a reclaim) must not show through a call that succeeded.
#[inline(always)]
fn keep_errno<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    let slot = unsafe { libc::__errno_location() };
    // SAFETY: as above.
    let saved = unsafe { *slot };
    let r = f();
    if r.is_ok() {
        // SAFETY: as above.
        unsafe { *slot = saved };
    }
    r
}

impl Kind {
    /// Allocates `size` bytes (memkind: size 0 gives no memory).
    ///
    /// ```
    /// use morselkind::Kind;
    ///
    /// let p = Kind::DEFAULT.malloc(100)?;
    /// // SAFETY: 100 fresh bytes of this kind, freed once and not used after.
    /// unsafe {
    ///     p.as_ptr().write_bytes(0xab, 100);
    ///     Kind::DEFAULT.free(p);
    /// }
    /// # Ok::<(), morselkind::Error>(())
    /// ```
    #[inline]
    pub fn malloc(self, size: usize) -> Result<NonNull<u8>> {
        match self.malloc_fast(size) {
            Some(p) => Ok(p),
            None => keep_errno(|| self.malloc_slow(size)),
        }
    }

    /// The allocation fast path, or `None` (nothing done) where [`Kind::malloc`] must go the
    /// slow way: DEFAULT on a thread already associated with DEFAULT's arenas (jemalloc's own
    /// fast path), or a hit in the thread's cache for this kind. Neither can happen before the
    /// kind is ready, and a destroyed kind's caches are stale (generation), so no state check.
    #[inline(always)]
    pub fn malloc_fast(self, size: usize) -> Option<NonNull<u8>> {
        self.malloc_fast_via::<TlsDescriptor>(size)
    }

    /// [`Kind::malloc_fast`], reaching the thread's cache the way `W` says (see
    /// [`TlsInitialExec`](crate::TlsInitialExec)).
    #[inline(always)]
    pub fn malloc_fast_via<W: ThreadWord>(self, size: usize) -> Option<NonNull<u8>> {
        self.malloc_cached_via::<W>(size).or_else(|| self.malloc_cache_miss(size))
    }

    /// After [`Kind::malloc_cached`] found nothing: DEFAULT's block from jemalloc's thread cache
    /// behind ours (see `default_miss`), or `None` (nothing done) where [`Kind::malloc`] must go
    /// the slow way.
    #[inline(always)]
    pub fn malloc_cache_miss(self, size: usize) -> Option<NonNull<u8>> {
        if self.is_default() && size.wrapping_sub(1) < cache::MAX_CACHED {
            default_miss(size)
        } else {
            None
        }
    }

    /// A block for `size` bytes from the thread's cache for this kind if it holds one, else
    /// `None` (nothing done). Unlike [`Kind::malloc_fast`] it has no miss path, so a caller can
    /// keep its own out of line.
    #[inline(always)]
    pub fn malloc_cached(self, size: usize) -> Option<NonNull<u8>> {
        self.malloc_cached_via::<TlsDescriptor>(size)
    }

    /// [`Kind::malloc_cached`], reaching the thread's cache the way `W` says.
    #[inline(always)]
    pub fn malloc_cached_via<W: ThreadWord>(self, size: usize) -> Option<NonNull<u8>> {
        if size.wrapping_sub(1) < cache::MAX_CACHED {
            cache::pop_size::<W>(self, size)
        } else {
            None
        }
    }

    #[inline(never)]
    fn malloc_slow(self, size: usize) -> Result<NonNull<u8>> {
        if size == 0 {
            return Err(Error::OutOfMemory);
        }
        self.ready()?;
        if size <= cache::MAX_CACHED {
            // `malloc_fast` found the bin empty (or the cache not made yet).
            if let Some(p) = cache::alloc_after_miss(self, size, cache_flags) {
                return Ok(p);
            }
        }
        if self.is_default() && default_ready() {
            // SAFETY: size is non-zero; the thread's arena is DEFAULT's.
            return default_block(unsafe { je::malloc(size) });
        }
        // SAFETY: size is non-zero; the flags name one of this kind's live arenas.
        let p = with_retry(self, || unsafe { je::mallocx(size, arena_flags(self)) })?;
        self.populate_large(p, size);
        Ok(p)
    }

    /// Populates a large block of an eager kind in batched calls (whole 2 MiB granules; the
    /// population bitmap skips granules already done).
    #[inline]
    fn populate_large(self, p: NonNull<u8>, size: usize) {
        if size >= EAGER_MIN {
            if let Some(provider) = self.provider().filter(|p| p.eager()) {
                provider.populate(p.as_ptr() as usize, size);
            }
        }
    }

    /// Allocates `num × size` zeroed bytes; an overflowing product fails.
    ///
    /// ```
    /// use morselkind::{Error, Kind};
    ///
    /// let p = Kind::DEFAULT.calloc(10, 8)?;
    /// // SAFETY: 80 fresh, zeroed bytes of this kind, freed once.
    /// unsafe {
    ///     assert!(std::slice::from_raw_parts(p.as_ptr(), 80).iter().all(|&b| b == 0));
    ///     Kind::DEFAULT.free(p);
    /// }
    /// assert_eq!(Kind::DEFAULT.calloc(usize::MAX, 2), Err(Error::OutOfMemory));
    /// # Ok::<(), morselkind::Error>(())
    /// ```
    pub fn calloc(self, num: usize, size: usize) -> Result<NonNull<u8>> {
        keep_errno(|| self.calloc_slow(num, size))
    }

    fn calloc_slow(self, num: usize, size: usize) -> Result<NonNull<u8>> {
        let total = num.checked_mul(size).ok_or(Error::OutOfMemory)?;
        if total == 0 {
            return Err(Error::OutOfMemory);
        }
        self.ready()?;
        if self.is_default() && total > cache::MAX_CACHED && default_ready() {
            // SAFETY: total is non-zero; the thread's arena is DEFAULT's.
            return default_block(unsafe { je::calloc(1, total) });
        }
        if total <= cache::MAX_CACHED {
            if let Some(p) = cache::alloc(self, total, cache_flags) {
                // SAFETY: a fresh block of at least `total` bytes.
                unsafe { p.as_ptr().write_bytes(0, total) };
                return Ok(p);
            }
        }
        // SAFETY: as in malloc; MALLOCX_ZERO makes jemalloc zero what its hooks did not.
        let p = with_retry(self, || unsafe { je::mallocx(total, arena_flags(self) | je::MALLOCX_ZERO) })?;
        self.populate_large(p, total);
        Ok(p)
    }

    /// Allocates `size` bytes aligned to `align` (a power of two).
    ///
    /// ```
    /// use morselkind::Kind;
    ///
    /// let p = Kind::DEFAULT.aligned(4096, 100)?;
    /// assert_eq!(p.as_ptr() as usize % 4096, 0);
    /// // SAFETY: a live block of this kind, freed once.
    /// unsafe { Kind::DEFAULT.free(p) };
    /// # Ok::<(), morselkind::Error>(())
    /// ```
    pub fn aligned(self, align: usize, size: usize) -> Result<NonNull<u8>> {
        keep_errno(|| self.aligned_slow(align, size))
    }

    fn aligned_slow(self, align: usize, size: usize) -> Result<NonNull<u8>> {
        if !align.is_power_of_two() {
            return Err(Error::Invalid);
        }
        if size == 0 {
            return Err(Error::OutOfMemory);
        }
        self.ready()?;
        let flags = arena_flags(self) | je::MALLOCX_LG_ALIGN(align.trailing_zeros() as usize);
        // SAFETY: size is non-zero; the alignment is a power of two.
        let p = with_retry(self, || unsafe { je::mallocx(size, flags) })?;
        self.populate_large(p, size);
        Ok(p)
    }

    /// Resizes `ptr` (which must belong to this kind) to `size` bytes, moving it into this
    /// kind's arena when it cannot grow in place. On failure the old block is left intact.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this kind.
    ///
    /// ```
    /// use morselkind::Kind;
    ///
    /// let p = Kind::DEFAULT.malloc(16)?;
    /// // SAFETY: `p` is live and this kind's; the old pointer is not used after realloc.
    /// unsafe {
    ///     p.as_ptr().write(42);
    ///     let q = Kind::DEFAULT.realloc(p, 1 << 20)?;
    ///     assert_eq!(q.as_ptr().read(), 42); // the contents move with the block
    ///     Kind::DEFAULT.free(q);
    /// }
    /// # Ok::<(), morselkind::Error>(())
    /// ```
    pub unsafe fn realloc(self, ptr: NonNull<u8>, size: usize) -> Result<NonNull<u8>> {
        if size == 0 {
            return Err(Error::Invalid);
        }
        self.ready()?;
        keep_errno(|| {
            // SAFETY: the caller passes a live block; jemalloc keeps it on failure.
            with_retry(self, || unsafe { je::rallocx(ptr.as_ptr().cast(), size, arena_flags(self)) })
        })
    }

    /// Frees a block of this kind.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this kind.
    ///
    /// ```
    /// use morselkind::Kind;
    ///
    /// let p = Kind::HUGE.malloc(1 << 20).or_else(|_| Kind::DEFAULT.malloc(1 << 20))?;
    /// let kind = Kind::detect(p.as_ptr()).expect("one of ours");
    /// // SAFETY: `p` is a live block of `kind`, not used after.
    /// unsafe { kind.free(p) };
    /// # Ok::<(), morselkind::Error>(())
    /// ```
    #[inline]
    pub unsafe fn free(self, ptr: NonNull<u8>) {
        // SAFETY: forwarded from the caller.
        if !unsafe { self.free_fast(ptr) } {
            // SAFETY: forwarded from the caller.
            unsafe { self.free_slow(ptr) }
        }
    }

    /// The free fast path: blocks whose page tag gives their class into the thread's bin if it
    /// has room, DEFAULT's into jemalloc's thread cache if not.
    /// False (nothing done) where [`Kind::free`] must go the slow way.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this kind.
    #[inline(always)]
    pub unsafe fn free_fast(self, ptr: NonNull<u8>) -> bool {
        // SAFETY: forwarded from the caller.
        tagged_class(ptr).is_some_and(|class| unsafe { self.free_class::<TlsDescriptor>(ptr, class) })
    }

    /// A block of a known small class into the thread's bin, or, DEFAULT's when the bin is
    /// full, into jemalloc's own thread cache behind ours (`cache::free_behind`).
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this kind, of small class `class`.
    #[inline(always)]
    pub(crate) unsafe fn free_class<W: ThreadWord>(self, ptr: NonNull<u8>, class: usize) -> bool {
        if cache::push::<W>(self, ptr, class) {
            return true;
        }
        if self.is_default() {
            // SAFETY: forwarded from the caller.
            unsafe { cache::free_behind(ptr, class) };
            return true;
        }
        false
    }

    /// [`Kind::free_fast`] with the block's tag slot already found (see
    /// `directory::lookup_and_tag`).
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this kind, and `tag` its page's tag slot.
    #[inline(always)]
    unsafe fn free_fast_tagged(self, ptr: NonNull<u8>, tag: &AtomicU8) -> bool {
        // Relaxed: as in `directory::tag`.
        // SAFETY: forwarded from the caller.
        class_of_tag(tag.load(Ordering::Relaxed))
            .is_some_and(|class| unsafe { self.free_class::<TlsDescriptor>(ptr, class) })
    }

    /// After [`Kind::free_fast`] did nothing: a tagged block whose bin was full (or whose cache
    /// is not made yet) goes back through the cache's flush; any other asks jemalloc its size.
    ///
    /// # Safety
    /// As [`Kind::free`]: `ptr` is a live block of this kind, not used again.
    #[inline(never)]
    unsafe fn free_slow(self, ptr: NonNull<u8>) {
        if tagged_class(ptr).is_some_and(|class| cache::free_after_miss(self, ptr, class, cache_flags)) {
            return;
        }
        // SAFETY: the caller passes a live jemalloc block of ours.
        let usable = unsafe { je::sallocx(ptr.as_ptr().cast(), 0) };
        if directory::tag(ptr.as_ptr() as usize) == directory::DEBUG_TAG {
            cache::check_double_free(self, ptr, usable);
        }
        // SAFETY: as above, with its usable size.
        unsafe { self.free_usable(ptr, usable) }
    }

    /// Frees a block of this kind whose usable size the caller has just read (saves
    /// `free` the lookup; tiering counts usable bytes anyway).
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this kind, and `usable` its `usable_size`.
    #[inline]
    pub unsafe fn free_usable(self, ptr: NonNull<u8>, usable: usize) {
        if cache::free(self, ptr, usable, cache_flags) {
            return;
        }
        if self.is_default() {
            // SAFETY: a live DEFAULT block of that usable size; DEFAULT's large blocks come
            // from the thread's own arena and go back through jemalloc's implicit cache.
            return unsafe { je::sdallocx(ptr.as_ptr().cast(), usable, 0) };
        }
        // SAFETY: the caller passes a live jemalloc block of ours.
        unsafe { je::dallocx(ptr.as_ptr().cast(), je::MALLOCX_TCACHE_NONE) }
    }

    /// The usable size of a block of this kind.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this kind.
    ///
    /// ```
    /// use morselkind::Kind;
    ///
    /// let p = Kind::DEFAULT.malloc(100)?;
    /// // SAFETY: a live block of this kind, freed once.
    /// unsafe {
    ///     assert!(Kind::DEFAULT.usable_size(p) >= 100);
    ///     Kind::DEFAULT.free(p);
    /// }
    /// # Ok::<(), morselkind::Error>(())
    /// ```
    pub unsafe fn usable_size(self, ptr: NonNull<u8>) -> usize {
        if let Some(class) = tagged_class(ptr) {
            return crate::sizes::CLASS_SIZE[class];
        }
        // SAFETY: the caller passes a live jemalloc block of ours.
        unsafe { je::sallocx(ptr.as_ptr().cast(), 0) }
    }

    /// The kind whose memory holds `ptr`, for a pointer the caller says is live (so its kind
    /// is too): the directory alone, without checking the kind's state.
    #[inline(always)]
    pub(crate) fn owner_of(ptr: *const u8) -> Option<Kind> {
        let span = directory::lookup(ptr as usize)?;
        // SAFETY: spans are registered by providers with their kind's table entry as owner.
        Some(unsafe { Kind::from_entry(span.owner as *const KindInner) })
    }

    /// The kind that owns `ptr`, or `None` for memory that is not ours. Never dereferences
    /// `ptr`.
    ///
    /// ```
    /// use morselkind::Kind;
    ///
    /// let p = Kind::DEFAULT.malloc(64)?;
    /// assert_eq!(Kind::detect(p.as_ptr()), Some(Kind::DEFAULT));
    /// let on_stack = 0u8;
    /// assert_eq!(Kind::detect(&on_stack), None);
    /// // SAFETY: a live block of this kind, freed once.
    /// unsafe { Kind::DEFAULT.free(p) };
    /// # Ok::<(), morselkind::Error>(())
    /// ```
    #[inline]
    pub fn detect(ptr: *const u8) -> Option<Kind> {
        let span = directory::lookup(ptr as usize)?;
        Kind::from_ptr(span.owner as *const KindInner).filter(|k| k.is_live())
    }
}

/// The small class the page tag gives a block of a cached kind (see `directory`), or `None`
/// where jemalloc must be asked.
#[inline(always)]
fn tagged_class(ptr: NonNull<u8>) -> Option<usize> {
    class_of_tag(directory::tag(ptr.as_ptr() as usize))
}

/// The class in a page tag, routed or not (see `crate::routed`).
#[inline(always)]
fn class_of_tag(tag: u8) -> Option<usize> {
    crate::routed::class_of_tag(tag)
}

/// Frees `ptr` whatever it is: a block of one of our kinds goes back to its kind, any other
/// pointer to the C library's `free`.
///
/// # Safety
/// `ptr` must be a live allocation of ours or of the C library's malloc.
#[inline]
pub unsafe fn free_any(ptr: NonNull<u8>) {
    match Kind::owner_of(ptr.as_ptr()) {
        // SAFETY: the directory says it is this kind's.
        Some(kind) => unsafe { kind.free(ptr) },
        // SAFETY: not ours, so the caller vouches it is the C library's.
        None => unsafe { libc::free(ptr.as_ptr().cast()) },
    }
}

/// [`free_any`]'s fast path: false (nothing done) where the block needs [`free_any`].
///
/// # Safety
/// `ptr` must be a live allocation of ours or of the C library's malloc.
#[inline(always)]
pub unsafe fn free_any_fast(ptr: NonNull<u8>) -> bool {
    match directory::lookup_and_tag(ptr.as_ptr() as usize) {
        // SAFETY: spans are registered by providers with their kind's table entry as owner;
        // the directory says the block is that kind's, and `tag` is its page's.
        Some((span, tag)) => unsafe {
            let owner = span.owner as *const KindInner;
            // DEFAULT (the interposer's DRAM tier) spelt out as the constant it is: its cache
            // slot and generation are then found without waiting for the span's owner, which
            // takes a chain of loads from `ptr` less. (Only the branch depends on the owner,
            // and it is predicted.)
            if std::ptr::eq(owner, Kind::DEFAULT.entry()) {
                Kind::DEFAULT.free_fast_tagged(ptr, tag)
            } else {
                Kind::from_entry(owner).free_fast_tagged(ptr, tag)
            }
        },
        None => false,
    }
}

/// The usable size of `ptr` whatever it is (ours, or the C library's).
///
/// # Safety
/// `ptr` must be a live allocation of ours or of the C library's malloc.
pub unsafe fn usable_size_any(ptr: NonNull<u8>) -> usize {
    match Kind::detect(ptr.as_ptr()) {
        // SAFETY: the directory says it is this kind's.
        Some(kind) => unsafe { kind.usable_size(ptr) },
        // SAFETY: not ours, so the caller vouches it is the C library's.
        None => unsafe { libc::malloc_usable_size(ptr.as_ptr().cast()) },
    }
}

impl Kind {
    /// Moves a small block to a fuller slab when its own slab is emptier than the bin's average
    /// and is not the one the bin allocates from next (memkind's defrag rule, over jemalloc's
    /// utilization query). Returns the new block (the old one is freed), or `None` where moving
    /// is not worth it.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this kind.
    pub unsafe fn defrag(self, ptr: NonNull<u8>) -> Option<NonNull<u8>> {
        // SAFETY: the caller passes a live block of this kind, which jemalloc made.
        let u = unsafe { crate::je::utilization(ptr.as_ptr().cast()) }?;
        if u.nfree == 0 || u.nregs <= 1 || u.slabcur == 0 {
            return None;
        }
        // The slab of `ptr` starts at or before it; the current slab is where new blocks go.
        let in_current = (ptr.as_ptr() as usize).wrapping_sub(u.slabcur) < u.size;
        if in_current || u.nfree * u.bin_nregs < u.bin_nfree * u.nregs {
            return None;
        }
        // SAFETY: a live block of this kind.
        let size = unsafe { self.usable_size(ptr) };
        // SAFETY: size is non-zero; the flags name one of this kind's arenas.
        let fresh = NonNull::new(unsafe { je::mallocx(size, arena_flags(self)) })?.cast::<u8>();
        directory::set_tag(fresh.as_ptr() as usize, 0);
        // SAFETY: both blocks are live, `size` long and distinct.
        unsafe {
            fresh.as_ptr().copy_from_nonoverlapping(ptr.as_ptr(), size);
            self.free(ptr);
        }
        Some(fresh)
    }
}

/// A miss in DEFAULT's bin on a thread bound to DEFAULT's arenas: one block from jemalloc's own
/// thread cache behind ours (`cache::alloc_behind`), without the slow path's set-up checks, all
/// done when the thread was bound. Out of line, so that [`Kind::malloc_fast`] inlined into a
/// caller saves no registers for it.
#[inline(never)]
fn default_miss(size: usize) -> Option<NonNull<u8>> {
    if default_bound() {
        cache::alloc_behind_size(size)
    } else {
        None
    }
}
