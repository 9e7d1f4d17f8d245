//! Thread caches for every kind, dynamic kinds included: per thread, per kind, per size class,
//! a stack of free blocks (about 32 KiB worth) above the kind's jemalloc arenas. A cache hit is
//! a few loads and a store; misses fill a few dozen blocks or flush half a bin at a time
//! through jemalloc. DEFAULT's misses go one block at a time to jemalloc's own thread cache
//! instead (see [`alloc_behind`]).
//!
//! # Destroying a kind while other threads hold cached blocks of it
//! A thread's cache for kind K records K's *generation*. Every creation and destruction of a
//! kind bumps its entry's generation, so a cache whose generation differs is stale: its blocks
//! belong to arenas that are gone, and it is reset by forgetting them (never by freeing them).
//!
//! The only moments a thread touches jemalloc on K's behalf with cached state are fills and
//! flushes (the slow path). Those run inside a *busy window*, opened and closed by the
//! handshake in `crate::busy` (checked under loom there): either the thread sees the new
//! generation and stays out of jemalloc, or the destroyer sees the thread busy and waits for it
//! to finish. The fast path (push/pop of a cached block) touches no arena and needs no window:
//! using a kind at the same time as destroying it is the caller's bug, as in memkind, but
//! blocks *cached* by other threads are never handed to a destroyed arena.
//!
//! What other threads read of a thread's caches (its `busy` word, and the registry link under
//! the registry's lock) is kept apart from what only the owner touches (its kind caches, in an
//! `UnsafeCell`): no `&mut` to memory another thread reads ever exists.
//!
//! At thread exit, the thread's caches are flushed (inside the window) and it unregisters.
//!
//! # The circle with `crate::kind` and `crate::fork`
//! cache → kind: a cache is per kind, so it reads the kind's index, generation and arenas.
//! kind → cache: `Kind::destroy` opens the busy window's other side (`before_destroy`), and
//! the statistics flush the calling thread's cache first. fork → cache: the thread registry is
//! one of the locks the fork handlers take, in the order `crate::fork` states. These are the
//! only modules of the crate that import each other.

use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;

use crate::busy::{self, NOT_BUSY};

use morsel::lock::Lock;
use tikv_jemalloc_sys as je;

use crate::kind::{Kind, MAX_KIND};
use crate::meta::{MetaAlloc, MetaBox};
use crate::tls::{ThreadWord, TlsDescriptor};

pub use crate::sizes::MAX_TABLED as MAX_CACHED;
pub(crate) use crate::sizes::NCLASSES;
use crate::sizes::{class_size_slow, CLASS_OF_8, CLASS_SIZE};

/// The most blocks a bin holds, the bytes' worth it aims at, and the fewest blocks a bin of
/// [`SMALL_MAX`]-byte blocks or smaller holds.
const BIN_CAP: usize = 2048;
const BIN_BYTES: usize = 32 << 10;
const SMALL_CAP: usize = 1024;
const SMALL_MAX: usize = 64;

/// How many blocks a bin holds: about 32 KiB worth, 8 to 2048 blocks, and at least 1024 of 64
/// bytes or less. A budget in bytes, not in blocks: a program that allocates a thousand 16- to
/// 64-byte blocks before it frees them (a parser, a tree being built) stays inside its bins,
/// as it stays inside glibc's fast bins (which have no bound at all), where a bound of a few
/// dozen blocks sent nearly every call of such a loop past the cache. (With 512 blocks of 64
/// bytes, a thousand of them took 22 ns per call against 9.5 for 32-byte ones, half passing
/// through jemalloc's cache behind ours.) Not 64 KiB for every class: that grows every
/// thread's cache by half, and random 16-1040 B pairs gained nothing measurable from it on 1
/// or 64 threads.
const BIN_CAP_OF: [usize; NCLASSES] = {
    let mut t = [0usize; NCLASSES];
    let mut i = 0;
    while i < NCLASSES {
        let size = class_size_slow(i);
        let c = BIN_BYTES / size;
        t[i] = if size <= SMALL_MAX && c < SMALL_CAP {
            SMALL_CAP
        } else if c < 8 {
            8
        } else if c > BIN_CAP {
            BIN_CAP
        } else {
            c
        };
        i += 1;
    }
    t
};

/// How many blocks a bin of `class` holds (a depot's stack holds as many: `crate::depot`).
pub(crate) fn bin_cap(class: usize) -> usize {
    BIN_CAP_OF[class]
}

/// The most blocks one fill takes from the arena: a thread that needs one block of a class
/// does not get a thousand.
const FILL_MAX: usize = 64;

/// The slots of all bins of a kind cache, one after the other.
pub(crate) const SLOTS: usize = {
    let mut sum = 0;
    let mut i = 0;
    while i < NCLASSES {
        sum += BIN_CAP_OF[i];
        i += 1;
    }
    sum
};

/// A stack of cached blocks of one class: `n` of them at `items[..n]`, room for `cap`. The
/// header of every bin sits together at the front of its kind cache (the hot path reads one
/// header and one slot); the slots follow, in the kind cache itself.
#[repr(C)]
struct Bin {
    n: u32,
    cap: u32,
    items: *mut *mut u8,
}

impl Bin {
    /// The cached blocks.
    fn cached(&self) -> &[*mut u8] {
        // SAFETY: `items` points at `cap` slots of the same kind cache, `n` ≤ `cap` of them set.
        unsafe { std::slice::from_raw_parts(self.items, self.n as usize) }
    }

    /// Every slot.
    fn slots(&mut self) -> &mut [*mut u8] {
        // SAFETY: as in `cached`; the kind cache is its owner's alone.
        unsafe { std::slice::from_raw_parts_mut(self.items, self.cap as usize) }
    }

    fn clear(&mut self) {
        self.n = 0;
    }
}

/// One thread's cache for one kind. Made zeroed in place (it is too large for a stack) by
/// [`KindCache::new`].
#[repr(C)]
struct KindCache {
    generation: u32,
    bins: [Bin; NCLASSES],
    slots: [*mut u8; SLOTS],
}

impl KindCache {
    /// A fresh, empty kind cache of generation 0, or None where memory is short.
    fn new() -> Option<MetaBox<KindCache>> {
        let fresh = MetaBox::<KindCache>::try_new_zeroed_in(MetaAlloc).ok()?;
        // SAFETY: all zero is a valid KindCache: integers 0, null pointers.
        let mut kc = unsafe { fresh.assume_init() };
        let base = kc.slots.as_mut_ptr();
        let mut at = 0;
        for (class, bin) in kc.bins.iter_mut().enumerate() {
            // SAFETY: the bins' slot ranges, BIN_CAP_OF[class] each, add up to SLOTS.
            bin.items = unsafe { base.add(at) };
            bin.cap = BIN_CAP_OF[class] as u32;
            at += BIN_CAP_OF[class];
        }
        Some(kc)
    }
}

/// One thread's caches, registered so that a destroyer can wait for its busy window.
struct ThreadCaches {
    /// Shared: the kind whose window is open, or NOT_BUSY (read by destroyers).
    busy: AtomicU32,
    /// Shared under the registry's lock: the next registered thread.
    next: UnsafeCell<*mut ThreadCaches>,
    /// The owner's alone (and a forked child's, where no other thread exists): its cache per
    /// kind.
    kinds: UnsafeCell<[*mut KindCache; MAX_KIND]>,
    /// The owner's alone: the same kind caches by route (`crate::routed`), so that a routed
    /// free reaches its bin from the page tag without loading the route's kind first. A route
    /// names one kind slot for good, so the entry mirrors `kinds` once set (by `kind_cache`).
    routed: UnsafeCell<[*mut KindCache; ROUTE_SLOTS]>,
}

/// Slots of `ThreadCaches::routed`: route 0 (none) and the routes.
const ROUTE_SLOTS: usize = crate::routed::MAX_ROUTES + 1;

impl ThreadCaches {
    /// The owner's view of its kind caches.
    ///
    /// # Safety
    /// Only the owning thread (or a forked child tearing others down) may call it, and not
    /// while another reference from it is alive.
    #[allow(clippy::mut_from_ref)]
    unsafe fn kinds(&self) -> &mut [*mut KindCache; MAX_KIND] {
        // SAFETY: per the function's contract, nobody else touches the cell now.
        unsafe { &mut *self.kinds.get() }
    }
}

struct Registry {
    head: *mut ThreadCaches,
}

// SAFETY: the list is only walked and edited under the mutex; nodes are freed only after they
// are unlinked.
unsafe impl Send for Registry {}

static THREADS: Lock<Registry> = Lock::new(Registry { head: std::ptr::null_mut() });

/// Sentinel for a thread whose caches are torn down (exit in progress): no caching any more.
const DEAD: *mut ThreadCaches = std::ptr::dangling_mut::<ThreadCaches>();

// The thread's caches (null: none yet; DEAD: torn down) are `crate::tls`'s word.
thread_local! {
    static EXIT: ExitGuard = const { ExitGuard(UnsafeCell::new(false)) };
}

/// Flushes and unregisters the thread's caches when the thread exits.
struct ExitGuard(UnsafeCell<bool>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        teardown();
    }
}

#[inline(always)]
fn current() -> *mut ThreadCaches {
    current_via::<TlsDescriptor>()
}

/// The thread's caches, with the word reached the way `W` says.
#[inline(always)]
fn current_via<W: ThreadWord>() -> *mut ThreadCaches {
    W::get() as *mut ThreadCaches
}

fn set_current(tc: *mut ThreadCaches) {
    crate::tls::set(tc as usize);
}

fn register() -> *mut ThreadCaches {
    // Registering the exit destructor may allocate (glibc's __cxa_thread_atexit_impl); mark
    // the thread DEAD meanwhile so a nested call goes straight to jemalloc.
    set_current(DEAD);
    if EXIT
        .try_with(|g| {
            // SAFETY: only this thread touches its guard.
            unsafe { *g.0.get() = true }
        })
        .is_err()
    {
        return DEAD;
    }
    let Ok(tc) = MetaBox::try_new_in(
        ThreadCaches {
            busy: AtomicU32::new(NOT_BUSY),
            next: UnsafeCell::new(std::ptr::null_mut()),
            kinds: UnsafeCell::new([std::ptr::null_mut(); MAX_KIND]),
            routed: UnsafeCell::new([std::ptr::null_mut(); ROUTE_SLOTS]),
        },
        MetaAlloc,
    ) else {
        set_current(std::ptr::null_mut());
        return DEAD;
    };
    let tc = MetaBox::into_raw(tc);
    let mut reg = THREADS.lock();
    // SAFETY: `tc` is fresh and ours; linked under the mutex.
    unsafe { *(*tc).next.get() = reg.head };
    reg.head = tc;
    drop(reg);
    set_current(tc);
    tc
}

fn teardown() {
    let tc = current();
    set_current(DEAD);
    if tc.is_null() || tc == DEAD {
        return;
    }
    // SAFETY: our own registered caches, alive until unlinked below.
    let caches = unsafe { &*tc };
    // SAFETY: the owner; the kind caches it mirrors are freed below.
    unsafe { *caches.routed.get() = [std::ptr::null_mut(); ROUTE_SLOTS] };
    for i in 0..MAX_KIND {
        // SAFETY: the owner, reading its own slot.
        let kc = unsafe { caches.kinds()[i] };
        if kc.is_null() {
            continue;
        }
        if let Some(kind) = Kind::from_index_any(i) {
            flush_all(caches, kind, kc, true);
        }
        // SAFETY: allocated by `kind_cache` from a MetaBox; the owner clears its own slot.
        unsafe {
            drop(MetaBox::from_raw_in(kc, MetaAlloc));
            caches.kinds()[i] = std::ptr::null_mut();
        }
    }
    let mut reg = THREADS.lock();
    let mut link: *mut *mut ThreadCaches = &mut reg.head;
    // SAFETY: the list is edited under the mutex; every node is a live registered cache.
    unsafe {
        while !(*link).is_null() {
            if *link == tc {
                *link = *(*tc).next.get();
                break;
            }
            link = (**link).next.get();
        }
    }
    drop(reg);
    // SAFETY: unlinked, so no destroyer can see it any more.
    drop(unsafe { MetaBox::from_raw_in(tc, MetaAlloc) });
}

/// Takes the thread registry for a fork (see `crate::fork`).
pub(crate) fn fork_lock() {
    THREADS.raw().acquire();
    // Depots are made under THREADS, so every one is seen here.
    crate::depot::fork_lock();
}

/// Releases the registry in the parent after a fork.
///
/// # Safety
/// Only after [`fork_lock`], by the thread that called it.
pub(crate) unsafe fn fork_unlock() {
    // SAFETY: taken by `fork_lock`, by this thread.
    unsafe { crate::depot::fork_unlock() };
    // SAFETY: taken by `fork_lock`, without a guard.
    unsafe { THREADS.raw().release() }
}

/// In a forked child (its only thread), after [`fork_lock`] in the parent: the other threads'
/// caches are unregistered and freed (a destroyer would otherwise wait on their busy windows
/// forever), then the registry is released. Their cached blocks are forgotten, not freed: a
/// thread may have been half-way through pushing or popping one at the fork.
///
/// # Safety
/// Only in a forked child, before any other thread exists.
pub(crate) unsafe fn after_fork_child() {
    let me = current();
    // SAFETY: taken by `fork_lock` in the parent before the fork. The depots' blocks stay:
    // the locks were held, so no thread was half-way through moving any.
    unsafe { crate::depot::fork_unlock() };
    // SAFETY: the registry is ours (taken by `fork_lock` before the fork).
    unsafe { THREADS.raw().release() };
    let mut reg = THREADS.lock();
    let mut link: *mut *mut ThreadCaches = &mut reg.head;
    // SAFETY: the list is edited under the lock; every node is a registered cache, and no
    // thread but this one exists to use the others.
    unsafe {
        while !(*link).is_null() {
            let node = *link;
            if node == me {
                link = (*node).next.get();
                continue;
            }
            *link = *(*node).next.get();
            for &kc in (*node).kinds().iter() {
                if !kc.is_null() {
                    drop(MetaBox::from_raw_in(kc, MetaAlloc));
                }
            }
            drop(MetaBox::from_raw_in(node, MetaAlloc));
        }
    }
}

/// Opens the busy window for `kind`; false (window closed again) if the cache is stale.
fn enter(caches: &ThreadCaches, kind: Kind, generation: u32) -> bool {
    busy::enter(&caches.busy, kind.index() as u32, kind.generation_cell(), generation)
}

fn leave(caches: &ThreadCaches) {
    busy::leave(&caches.busy);
}

/// Empties the thread's cache for `kind`. At thread exit (`to_depot`) the blocks go to the
/// kind's depot where it has room, for the threads that stay; for exact statistics or a
/// retry after exhaustion (`cache::flush`) they go to the arena, and the depot is drained too.
fn flush_all(caches: &ThreadCaches, kind: Kind, kc: *mut KindCache, to_depot: bool) {
    // SAFETY: the thread's own kind cache.
    let kc = unsafe { &mut *kc };
    if enter(caches, kind, kc.generation) {
        for (class, bin) in kc.bins.iter_mut().enumerate() {
            if to_depot {
                bin.n -= crate::depot::put(kind, class, bin.cached()) as u32;
            }
            for &p in bin.cached() {
                // SAFETY: a cached block of this live kind, inside the busy window.
                unsafe { je::dallocx(p.cast(), je::MALLOCX_TCACHE_NONE) };
            }
            bin.clear();
        }
        if !to_depot {
            crate::depot::drain(kind);
        }
        leave(caches);
    }
    kc.bins.iter_mut().for_each(Bin::clear);
}

/// Called by `Kind::destroy` after bumping the generation and before destroying the arenas:
/// waits until no thread is inside a busy window for `kind`.
pub(crate) fn before_destroy(kind: Kind) {
    let reg = THREADS.lock();
    let mut node = reg.head;
    let me = current();
    while !node.is_null() {
        // SAFETY: registered nodes stay alive while the mutex is held.
        let caches = unsafe { &*node };
        if node != me {
            busy::wait_out(&caches.busy, kind.index() as u32);
        }
        // SAFETY: links are read under the mutex.
        node = unsafe { *caches.next.get() };
    }
    drop(reg);
    // Nobody is inside a window for the kind now, nor can enter one: the depot's blocks
    // belong to arenas about to go.
    crate::depot::forget(kind);
    // Our own cache for the kind is stale now; reset it without touching its blocks.
    if !me.is_null() && me != DEAD {
        // SAFETY: our own caches, read by their owner.
        let kc = unsafe { (*me).kinds()[kind.index()] };
        // SAFETY: a non-null slot holds our own kind cache.
        if let Some(kc) = unsafe { kc.as_mut() } {
            kc.bins.iter_mut().for_each(Bin::clear);
        }
    }
}

/// The calling thread's cache for `kind`, made or reset as needed; None where the thread has
/// no caches (exiting) or memory for one is short.
#[cold]
fn kind_cache(kind: Kind) -> Option<(&'static ThreadCaches, &'static mut KindCache)> {
    let mut tc = current();
    if tc.is_null() {
        tc = register();
    }
    if tc == DEAD {
        return None;
    }
    // SAFETY: the thread's own registered caches, alive until its exit.
    let caches = unsafe { &*tc };
    // SAFETY: the owner, and no other reference to its slots is alive.
    let slot = unsafe { &mut caches.kinds()[kind.index()] };
    if slot.is_null() {
        *slot = MetaBox::into_raw(KindCache::new()?);
    }
    if let Some(r) = crate::routed::route_of(kind) {
        // SAFETY: the owner, and no other reference to its route slots is alive.
        unsafe { (*caches.routed.get())[r.get() as usize % ROUTE_SLOTS] = *slot };
    }
    // SAFETY: the slot holds our own kind cache.
    let kc = unsafe { &mut **slot };
    let generation = kind.generation();
    if kc.generation != generation {
        // Stale: a destroyed kind's blocks are forgotten, never freed.
        kc.bins.iter_mut().for_each(Bin::clear);
        kc.generation = generation;
    }
    Some((caches, kc))
}

#[inline(always)]
fn hit(kind: Kind) -> Option<&'static mut KindCache> {
    hit_via::<TlsDescriptor>(kind)
}

/// [`hit`], with the thread's word reached the way `W` says.
#[inline(always)]
fn hit_via<W: ThreadWord>(kind: Kind) -> Option<&'static mut KindCache> {
    let tc = current_via::<W>();
    if tc.is_null() || tc == DEAD {
        return None;
    }
    // SAFETY: the thread's own registered caches, read by their owner; a kind's index is
    // below MAX_KIND.
    let kc = unsafe { *(*(*tc).kinds.get()).get_unchecked(kind.index()) };
    // SAFETY: a non-null slot holds the thread's own kind cache.
    let kc = unsafe { kc.as_mut() }?;
    (kc.generation == kind.generation()).then_some(kc)
}

/// The class of a size the caller has checked is at most MAX_CACHED.
#[inline(always)]
fn small_class(size: usize) -> usize {
    debug_assert!(size <= MAX_CACHED);
    // SAFETY: size ≤ MAX_CACHED, so the index is within the table of MAX_CACHED / 8 + 1.
    unsafe { *CLASS_OF_8.get_unchecked((size + 7) >> 3) as usize }
}

/// A block of class `class` from the thread's cache for `kind`, filling the bin if empty.
#[inline(always)]
pub(crate) fn alloc(kind: Kind, size: usize, arena_flags: fn(Kind) -> libc::c_int) -> Option<NonNull<u8>> {
    let class = small_class(size);
    pop::<TlsDescriptor>(kind, class).or_else(|| alloc_slow(kind, class, arena_flags(kind)))
}

/// A cached block of `kind` for a request of `size` bytes (1..=MAX_CACHED), if the thread's
/// bin has one: no fill, no jemalloc, no locks.
#[inline(always)]
pub(crate) fn pop_size<W: ThreadWord>(kind: Kind, size: usize) -> Option<NonNull<u8>> {
    pop::<W>(kind, small_class(size))
}

#[inline(always)]
fn pop<W: ThreadWord>(kind: Kind, class: usize) -> Option<NonNull<u8>> {
    let kc = hit_via::<W>(kind)?;
    // SAFETY: the table's classes are below NCLASSES.
    let bin = unsafe { kc.bins.get_unchecked_mut(class) };
    if bin.n == 0 {
        return None;
    }
    bin.n -= 1;
    // SAFETY: n < cap, a slot of the bin; cached blocks are live blocks of this kind.
    Some(unsafe { NonNull::new_unchecked(*bin.items.add(bin.n as usize)) })
}

/// A block for a request of `size` bytes (1..=MAX_CACHED) after the caller found the thread's
/// bin empty ([`pop_size`]): fills the bin and takes one.
#[inline]
pub(crate) fn alloc_after_miss(
    kind: Kind,
    size: usize,
    arena_flags: fn(Kind) -> libc::c_int,
) -> Option<NonNull<u8>> {
    alloc_slow(kind, small_class(size), arena_flags(kind))
}

/// Fills the bin of `class` and takes one block. `flags` name the kind's arena without
/// jemalloc's thread cache, or are 0: DEFAULT on a thread bound to DEFAULT's arena, whose
/// misses then take one block at a time from jemalloc's own thread cache (see
/// [`alloc_behind`]).
#[cold]
fn alloc_slow(kind: Kind, class: usize, flags: libc::c_int) -> Option<NonNull<u8>> {
    let class_size = CLASS_SIZE[class];
    let (caches, kc) = kind_cache(kind)?;
    if flags == 0 {
        return alloc_behind(class);
    }
    if !enter(caches, kind, kc.generation) {
        return None;
    }
    let bin = &mut kc.bins[class];
    // Blocks that flushes left in the kind's depot first, up to half the bin: a copy under
    // one lock. Else one call fills a few dozen blocks from the arena (fresh slabs whole).
    // Blocks are handed out as pushed (LIFO); the bin's frees fill the rest of it.
    let first = bin.n as usize;
    let mut n = first;
    let half = bin.cap as usize / 2;
    if n < half {
        n += crate::depot::take(kind, class, &mut bin.slots()[n..half]);
    }
    let want = half.min(FILL_MAX);
    if n == first && n < want {
        let range = &mut bin.slots()[n..want];
        // SAFETY: `*mut u8` and `*mut c_void` have the same layout; the range is the bin's.
        let slots: &mut [*mut libc::c_void] =
            unsafe { std::slice::from_raw_parts_mut(range.as_mut_ptr().cast(), range.len()) };
        n += crate::je::batch_alloc(slots, class_size, flags);
        while n < want {
            // SAFETY: the flags name one of the kind's arenas; inside the busy window.
            let p = unsafe { je::mallocx(class_size, flags) };
            if p.is_null() {
                break;
            }
            bin.slots()[n] = p.cast();
            n += 1;
        }
    }
    leave(caches);
    // Tag the fresh blocks before any is handed out (see `directory`): frees then know their
    // class without asking jemalloc.
    let tag = fill_tag(kind, class);
    for &p in &bin.slots()[first..n] {
        crate::directory::set_tag(p as usize, tag);
    }
    if n == 0 {
        return None;
    }
    n -= 1;
    bin.n = n as u32;
    NonNull::new(bin.slots()[n])
}

/// [`alloc_behind`] for a request of `size` bytes (1..=MAX_CACHED).
#[inline]
pub(crate) fn alloc_behind_size(size: usize) -> Option<NonNull<u8>> {
    alloc_behind(small_class(size))
}

/// One block of `class` from jemalloc's implicit thread cache, behind ours: DEFAULT's miss
/// path on a thread bound to DEFAULT's arena (the only kind that cache ever holds; see
/// `heap::default_ready`). jemalloc's cache moves blocks to and from the arena a slab's worth
/// under one lock, where our own fill from the arena (every other kind) locks the arena's bin
/// for every block; a loop allocating a thousand small blocks before freeing them misses our
/// bins on nearly every call, so this is its cost per call. No busy window: DEFAULT is never
/// destroyed. The block's page is tagged before it is handed out (see `directory`).
#[inline]
fn alloc_behind(class: usize) -> Option<NonNull<u8>> {
    // SAFETY: a non-zero size; the thread's arena is DEFAULT's.
    let p = NonNull::new(unsafe { je::malloc(CLASS_SIZE[class]) })?.cast::<u8>();
    crate::directory::set_tag(p.as_ptr() as usize, fill_tag(Kind::DEFAULT, class));
    Some(p)
}

/// The page tag of blocks of `class` handed out by the cache (see `directory`). With
/// MORSELKIND_DEBUG=1 it sends every free of them down the slow path instead, where double
/// frees are looked for (`check_double_free`).
#[inline]
fn fill_tag(kind: Kind, class: usize) -> u8 {
    if crate::log::morselkind_debug() {
        crate::directory::DEBUG_TAG
    } else {
        // The class, and the kind's route if it has one (`crate::routed`).
        crate::routed::tag_of(kind, class)
    }
}

/// Gives a DEFAULT block of small class `class` whose bin is full to jemalloc's implicit thread
/// cache (see [`alloc_behind`]): one push there, where flushing half our bin would pass every
/// block through both caches.
///
/// # Safety
/// `ptr` is a live DEFAULT block of class `class`, not used again.
#[inline]
pub(crate) unsafe fn free_behind(ptr: NonNull<u8>, class: usize) {
    // SAFETY: per the contract; DEFAULT's blocks may go to jemalloc's implicit cache on any
    // thread (it returns each block to its own arena when it flushes).
    unsafe { je::sdallocx(ptr.as_ptr().cast(), CLASS_SIZE[class], 0) }
}

/// Returns a block of `kind` (of usable size `usable`) to the thread's cache; false if the
/// caller must free it through jemalloc itself.
#[inline(always)]
pub(crate) fn free(
    kind: Kind,
    ptr: NonNull<u8>,
    usable: usize,
    arena_flags: fn(Kind) -> libc::c_int,
) -> bool {
    if usable > MAX_CACHED {
        return false;
    }
    let class = small_class(usable);
    push::<TlsDescriptor>(kind, ptr, class) || free_after_miss(kind, ptr, class, arena_flags)
}

/// [`push`] for a block whose page tag gave `route`, a route of `kind`: the bin is found by
/// the route. False (nothing done) where [`push`] would not push, or the thread's cache for the
/// route is not mirrored yet.
#[inline(always)]
pub(crate) fn push_routed<W: ThreadWord>(route: usize, kind: Kind, ptr: NonNull<u8>, class: usize) -> bool {
    debug_assert!(class < NCLASSES);
    let tc = current_via::<W>();
    if tc.is_null() || tc == DEAD {
        return false;
    }
    // SAFETY: the thread's own registered caches, read by their owner; the index is in range.
    let kc = unsafe { *(*(*tc).routed.get()).get_unchecked(route % ROUTE_SLOTS) };
    // SAFETY: a non-null slot holds the thread's own kind cache (the route's kind's).
    let Some(kc) = (unsafe { kc.as_mut() }) else { return false };
    kc.generation == kind.generation() && push_into(kc, ptr, class)
}

/// Puts a block of `kind` of small class `class` (below NCLASSES) into the thread's bin if it
/// has room: no flush, no jemalloc, no locks.
#[inline(always)]
pub(crate) fn push<W: ThreadWord>(kind: Kind, ptr: NonNull<u8>, class: usize) -> bool {
    debug_assert!(class < NCLASSES);
    let Some(kc) = hit_via::<W>(kind) else { return false };
    push_into(kc, ptr, class)
}

/// Pushes `ptr` onto `kc`'s bin of `class` (below NCLASSES) if it has room.
#[inline(always)]
fn push_into(kc: &mut KindCache, ptr: NonNull<u8>, class: usize) -> bool {
    // SAFETY: the caller passes a class below NCLASSES.
    let bin = unsafe { kc.bins.get_unchecked_mut(class) };
    if bin.n >= bin.cap {
        return false;
    }
    // SAFETY: n < cap, a slot of the bin.
    unsafe { *bin.items.add(bin.n as usize) = ptr.as_ptr() };
    bin.n += 1;
    true
}

/// Returns a block of small class `class` to the thread's cache after [`push`] found no room
/// (or no cache): makes or resets the cache, or flushes half the bin; false if the caller must
/// free it through jemalloc itself. `arena_flags` are the kind's fill flags (see
/// [`alloc_slow`]): 0 sends the block to jemalloc's own thread cache instead ([`free_behind`]).
#[cold]
pub(crate) fn free_after_miss(
    kind: Kind,
    ptr: NonNull<u8>,
    class: usize,
    arena_flags: fn(Kind) -> libc::c_int,
) -> bool {
    let Some((caches, kc)) = kind_cache(kind) else { return false };
    let bin = &mut kc.bins[class];
    if bin.n < bin.cap {
        // The cache was just made or reset.
        let n = bin.n as usize;
        bin.slots()[n] = ptr.as_ptr();
        bin.n += 1;
        return true;
    }
    if arena_flags(kind) == 0 {
        // SAFETY: the caller's live block of this kind (DEFAULT) and class.
        unsafe { free_behind(ptr, class) };
        return true;
    }
    if !crate::depot::exists(kind) {
        // Outside the busy window: a destroyer holds the registry while it waits for one.
        let _registry = THREADS.lock();
        crate::depot::make(kind);
    }
    if !enter(caches, kind, kc.generation) {
        return false;
    }
    // Half the bin goes to the kind's depot (one copy under one lock), or to the arena block
    // by block where the depot has no room.
    let keep = bin.cap as usize / 2;
    let mut n = bin.n as usize;
    n -= crate::depot::put(kind, class, &bin.slots()[keep..n]);
    let class_size = CLASS_SIZE[class];
    for &p in &bin.slots()[keep..n] {
        // SAFETY: a cached block of this live kind and class, inside the busy window.
        unsafe { je::sdallocx(p.cast(), class_size, je::MALLOCX_TCACHE_NONE) };
    }
    leave(caches);
    bin.slots()[keep] = ptr.as_ptr();
    bin.n = keep as u32 + 1;
    true
}

/// With MORSELKIND_DEBUG=1, on the free slow path: aborts with one message if `ptr` (a block
/// of `kind` whose usable size is `usable`) is already in the calling thread's cache, where a
/// second free would have it handed out twice. (glibc's tcache makes the same check.) A block
/// freed twice after its thread's bin was flushed is jemalloc's to notice, which it does not
/// in a release build.
pub(crate) fn check_double_free(kind: Kind, ptr: NonNull<u8>, usable: usize) {
    if usable > MAX_CACHED {
        return;
    }
    let Some(kc) = hit(kind) else { return };
    let bin = &kc.bins[small_class(usable)];
    if bin.cached().contains(&ptr.as_ptr()) {
        let mut buf = [0u8; 18];
        morsel::sys::write_stderr(&[
            b"morselkind: double free detected: block at ",
            morsel::sys::hex(ptr.as_ptr() as u64, &mut buf),
            b" of kind ",
            kind.name().as_bytes(),
            b" was freed twice\n",
        ]);
        std::process::abort();
    }
}

/// Makes the calling thread's cache for `kind` if it has none yet.
pub(crate) fn make(kind: Kind) {
    let _ = kind_cache(kind);
}

/// Flushes the calling thread's cache for `kind` (before a retry when a limited kind is full).
pub(crate) fn flush(kind: Kind) {
    if let Some((caches, kc)) = kind_cache(kind) {
        flush_all(caches, kind, kc, false);
    }
}
