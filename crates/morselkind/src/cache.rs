//! Thread caches for every kind, dynamic kinds included: per thread, per kind, per size class,
//! a small stack of free blocks above the kind's jemalloc arenas. A cache hit is a few loads and
//! a store; misses fill or flush half a bin at a time through jemalloc.
//!
//! # Destroying a kind while other threads hold cached blocks of it
//! A thread's cache for kind K records K's *generation*. Every creation and destruction of a
//! kind bumps its entry's generation, so a cache whose generation differs is stale: its blocks
//! belong to arenas that are gone, and it is reset by forgetting them (never by freeing them).
//!
//! The only moments a thread touches jemalloc on K's behalf with cached state are fills and
//! flushes (the slow path). Those run inside a *busy window*:
//!   thread:    busy := K (SeqCst);  if gen(K) != cached gen { busy := none; reset }  ...jemalloc...  busy := none
//!   destroyer: gen(K) += 1 (SeqCst);  for every registered thread: wait while busy == K;  destroy arenas
//! Both sides write their own variable and then read the other's, all SeqCst, so at least one
//! of them sees the other (Dekker): either the thread sees the new generation and stays out of
//! jemalloc, or the destroyer sees the thread busy and waits for it to finish. The fast path
//! (push/pop of a cached block) touches no arena and needs no window: using a kind at the same
//! time as destroying it is the caller's bug, as in memkind, but blocks *cached* by other
//! threads are never handed to a destroyed arena.
//!
//! At thread exit, the thread's caches are flushed (inside the window) and it unregisters.

use std::cell::{Cell, UnsafeCell};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use tikv_jemalloc_sys as je;

use crate::kind::{Kind, MAX_KIND};
use crate::meta::{MetaAlloc, MetaBox};

/// Blocks up to this size are cached.
pub const MAX_CACHED: usize = 8192;
/// Size classes cached: jemalloc's 8, 16..128 by 16, then four per doubling up to 8 KiB.
const NCLASSES: usize = 33;
const BIN_CAP: usize = 32;
const NOT_BUSY: u32 = u32::MAX;

/// The size class index and class size of a small request (`size` in 1..=MAX_CACHED), equal
/// to jemalloc's small size classes (checked against `nallocx` in the tests). Two table loads.
#[inline(always)]
pub fn class_of(size: usize) -> (usize, usize) {
    let i = CLASS_OF_8[(size + 7) >> 3] as usize;
    (i, CLASS_SIZE[i])
}

/// The class of a size computed arithmetically: 8, 16..128 by 16, then four per doubling.
const fn class_of_slow(size: usize) -> usize {
    if size <= 8 {
        return 0;
    }
    if size <= 128 {
        return (size + 15) >> 4;
    }
    let lg = usize::BITS - 1 - (size - 1).leading_zeros(); // floor(log2(size - 1)) ≥ 7
    let k = (size - (1 << lg) + (1 << (lg - 2)) - 1) >> (lg - 2); // 1..=4
    8 + (lg as usize - 7) * 4 + k
}

const fn class_size_slow(i: usize) -> usize {
    if i == 0 {
        return 8;
    }
    if i <= 8 {
        return i << 4;
    }
    let lg = 7 + (i - 9) / 4;
    let k = (i - 9) % 4 + 1;
    (1 << lg) + k * (1 << (lg - 2))
}

/// Class index by size in 8-byte steps (every class above 8 is a multiple of 16, so steps of 8
/// never straddle a class boundary).
static CLASS_OF_8: [u8; MAX_CACHED / 8 + 1] = {
    let mut t = [0u8; MAX_CACHED / 8 + 1];
    let mut i = 1;
    while i < t.len() {
        t[i] = class_of_slow(i * 8) as u8;
        i += 1;
    }
    t
};

static CLASS_SIZE: [usize; NCLASSES] = {
    let mut t = [0usize; NCLASSES];
    let mut i = 0;
    while i < NCLASSES {
        t[i] = class_size_slow(i);
        i += 1;
    }
    t
};

/// How many blocks a bin holds: about 16 KiB worth, 4 to 32 blocks.
static BIN_CAP_OF: [usize; NCLASSES] = {
    let mut t = [0usize; NCLASSES];
    let mut i = 0;
    while i < NCLASSES {
        let c = 16384 / class_size_slow(i);
        t[i] = if c < 4 {
            4
        } else if c > BIN_CAP {
            BIN_CAP
        } else {
            c
        };
        i += 1;
    }
    t
};

struct Bin {
    n: usize,
    items: [*mut u8; BIN_CAP],
}

/// One thread's cache for one kind.
struct KindCache {
    generation: u32,
    bins: [Bin; NCLASSES],
}

/// One thread's caches, registered so that a destroyer can wait for its busy window.
struct ThreadCaches {
    busy: AtomicU32,
    kinds: [*mut KindCache; MAX_KIND],
    next: *mut ThreadCaches,
}

struct Registry {
    head: *mut ThreadCaches,
}

// SAFETY: the list is only walked and edited under the mutex; nodes are freed only after they
// are unlinked.
unsafe impl Send for Registry {}

static THREADS: Mutex<Registry> = Mutex::new(Registry { head: std::ptr::null_mut() });

/// Sentinel for a thread whose caches are torn down (exit in progress): no caching any more.
const DEAD: *mut ThreadCaches = std::ptr::dangling_mut::<ThreadCaches>();

thread_local! {
    static CURRENT: Cell<*mut ThreadCaches> = const { Cell::new(std::ptr::null_mut()) };
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
    CURRENT.try_with(|c| c.get()).unwrap_or(DEAD)
}

fn register() -> *mut ThreadCaches {
    // Registering the exit destructor may allocate (glibc's __cxa_thread_atexit_impl); mark
    // the thread DEAD meanwhile so a nested call goes straight to jemalloc.
    let _ = CURRENT.try_with(|c| c.set(DEAD));
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
            kinds: [std::ptr::null_mut(); MAX_KIND],
            next: std::ptr::null_mut(),
        },
        MetaAlloc,
    ) else {
        let _ = CURRENT.try_with(|c| c.set(std::ptr::null_mut()));
        return DEAD;
    };
    let tc = MetaBox::into_raw(tc);
    let mut reg = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: `tc` is fresh and ours; linked under the mutex.
    unsafe { (*tc).next = reg.head };
    reg.head = tc;
    drop(reg);
    let _ = CURRENT.try_with(|c| c.set(tc));
    tc
}

fn teardown() {
    let tc = current();
    let _ = CURRENT.try_with(|c| c.set(DEAD));
    if tc.is_null() || tc == DEAD {
        return;
    }
    // SAFETY: our own registered caches; other threads only read `busy`.
    let caches = unsafe { &mut *tc };
    for i in 0..MAX_KIND {
        let kc = caches.kinds[i];
        if kc.is_null() {
            continue;
        }
        if let Some(kind) = Kind::from_index_any(i) {
            flush_all(caches, kind, kc);
        }
        // SAFETY: allocated by `kind_cache` from a MetaBox.
        drop(unsafe { MetaBox::from_raw_in(kc, MetaAlloc) });
        caches.kinds[i] = std::ptr::null_mut();
    }
    let mut reg = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let mut link: *mut *mut ThreadCaches = &mut reg.head;
    // SAFETY: the list is edited under the mutex; every node is a live registered cache.
    unsafe {
        while !(*link).is_null() {
            if *link == tc {
                *link = (*tc).next;
                break;
            }
            link = &mut (**link).next;
        }
    }
    drop(reg);
    // SAFETY: unlinked, so no destroyer can see it any more.
    drop(unsafe { MetaBox::from_raw_in(tc, MetaAlloc) });
}

/// Opens the busy window for `kind`; false (window closed again) if the cache is stale.
fn enter(caches: &ThreadCaches, kind: Kind, generation: u32) -> bool {
    caches.busy.store(kind.index() as u32, Ordering::SeqCst);
    if kind.generation_seqcst() == generation {
        return true;
    }
    caches.busy.store(NOT_BUSY, Ordering::Release);
    false
}

fn leave(caches: &ThreadCaches) {
    caches.busy.store(NOT_BUSY, Ordering::Release);
}

fn flush_all(caches: &ThreadCaches, kind: Kind, kc: *mut KindCache) {
    // SAFETY: the thread's own kind cache.
    let kc = unsafe { &mut *kc };
    if enter(caches, kind, kc.generation) {
        for bin in kc.bins.iter_mut() {
            for &p in &bin.items[..bin.n] {
                // SAFETY: a cached block of this live kind, inside the busy window.
                unsafe { je::dallocx(p.cast(), je::MALLOCX_TCACHE_NONE) };
            }
            bin.n = 0;
        }
        leave(caches);
    }
    for bin in kc.bins.iter_mut() {
        bin.n = 0;
    }
}

/// Called by `Kind::destroy` after bumping the generation and before destroying the arenas:
/// waits until no thread is inside a busy window for `kind`.
pub(crate) fn before_destroy(kind: Kind) {
    let reg = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let mut node = reg.head;
    let me = current();
    while !node.is_null() {
        // SAFETY: registered nodes stay alive while the mutex is held.
        let caches = unsafe { &*node };
        if node != me {
            while caches.busy.load(Ordering::SeqCst) == kind.index() as u32 {
                std::hint::spin_loop();
            }
        }
        node = caches.next;
    }
    drop(reg);
    // Our own cache for the kind is stale now; reset it without touching its blocks.
    if !me.is_null() && me != DEAD {
        // SAFETY: our own caches.
        let kc = unsafe { (*me).kinds[kind.index()] };
        // SAFETY: a non-null slot holds our own kind cache.
        if let Some(kc) = unsafe { kc.as_mut() } {
            kc.bins.iter_mut().for_each(|b| b.n = 0);
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
    let caches = unsafe { &mut *tc };
    let slot = &mut caches.kinds[kind.index()];
    if slot.is_null() {
        let fresh = MetaBox::try_new_in(
            KindCache {
                generation: 0,
                bins: std::array::from_fn(|_| Bin { n: 0, items: [std::ptr::null_mut(); BIN_CAP] }),
            },
            MetaAlloc,
        )
        .ok()?;
        *slot = MetaBox::into_raw(fresh);
    }
    // SAFETY: the slot holds our own kind cache.
    let kc = unsafe { &mut **slot };
    let generation = kind.generation();
    if kc.generation != generation {
        // Stale: a destroyed kind's blocks are forgotten, never freed.
        kc.bins.iter_mut().for_each(|b| b.n = 0);
        kc.generation = generation;
    }
    // SAFETY: as above; the references live no longer than the thread.
    Some((unsafe { &*tc }, kc))
}

#[inline(always)]
fn hit(kind: Kind) -> Option<&'static mut KindCache> {
    let tc = current();
    if tc.is_null() || tc == DEAD {
        return None;
    }
    // SAFETY: the thread's own registered caches.
    let kc = unsafe { (*tc).kinds[kind.index()] };
    // SAFETY: a non-null slot holds the thread's own kind cache.
    let kc = unsafe { kc.as_mut() }?;
    (kc.generation == kind.generation()).then_some(kc)
}

/// A block of class `class` from the thread's cache for `kind`, filling the bin if empty.
#[inline(always)]
pub(crate) fn alloc(kind: Kind, size: usize, arena_flags: fn(Kind) -> libc::c_int) -> Option<NonNull<u8>> {
    let class = CLASS_OF_8[(size + 7) >> 3] as usize;
    if let Some(kc) = hit(kind) {
        let bin = &mut kc.bins[class];
        if bin.n > 0 {
            bin.n -= 1;
            // SAFETY: cached blocks are live blocks of this kind.
            return Some(unsafe { NonNull::new_unchecked(bin.items[bin.n]) });
        }
    }
    alloc_slow(kind, class, arena_flags(kind))
}

#[cold]
fn alloc_slow(kind: Kind, class: usize, flags: libc::c_int) -> Option<NonNull<u8>> {
    let class_size = CLASS_SIZE[class];
    let (caches, kc) = kind_cache(kind)?;
    if !enter(caches, kind, kc.generation) {
        return None;
    }
    let bin = &mut kc.bins[class];
    let want = BIN_CAP_OF[class] / 2;
    while bin.n < want {
        // SAFETY: the flags name one of the kind's arenas; inside the busy window.
        let p = unsafe { je::mallocx(class_size, flags) };
        if p.is_null() {
            break;
        }
        bin.items[bin.n] = p.cast();
        bin.n += 1;
    }
    leave(caches);
    if bin.n == 0 {
        return None;
    }
    bin.n -= 1;
    NonNull::new(bin.items[bin.n])
}

/// Returns a block of `kind` (of usable size `usable`) to the thread's cache; false if the
/// caller must free it through jemalloc itself.
#[inline(always)]
pub(crate) fn free(kind: Kind, ptr: NonNull<u8>, usable: usize) -> bool {
    if usable > MAX_CACHED {
        return false;
    }
    let class = CLASS_OF_8[(usable + 7) >> 3] as usize;
    if let Some(kc) = hit(kind) {
        let bin = &mut kc.bins[class];
        if bin.n < BIN_CAP_OF[class] {
            bin.items[bin.n] = ptr.as_ptr();
            bin.n += 1;
            return true;
        }
    }
    free_slow(kind, ptr, class)
}

#[cold]
fn free_slow(kind: Kind, ptr: NonNull<u8>, class: usize) -> bool {
    let Some((caches, kc)) = kind_cache(kind) else { return false };
    if !enter(caches, kind, kc.generation) {
        return false;
    }
    let bin = &mut kc.bins[class];
    let keep = BIN_CAP_OF[class] / 2;
    while bin.n > keep {
        bin.n -= 1;
        // SAFETY: a cached block of this live kind, inside the busy window.
        unsafe { je::dallocx(bin.items[bin.n].cast(), je::MALLOCX_TCACHE_NONE) };
    }
    leave(caches);
    bin.items[bin.n] = ptr.as_ptr();
    bin.n += 1;
    true
}

/// Flushes the calling thread's cache for `kind` (before a retry when a limited kind is full).
pub(crate) fn flush(kind: Kind) {
    if let Some((caches, kc)) = kind_cache(kind) {
        flush_all(caches, kind, kc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_jemalloc() {
        for size in 1..=MAX_CACHED {
            let (i, class) = class_of(size);
            // SAFETY: nallocx only computes a size.
            let je_class = unsafe { je::nallocx(size, 0) };
            assert_eq!(class, je_class, "size {size}");
            assert!(i < NCLASSES, "size {size} index {i}");
        }
        assert_eq!(class_of(MAX_CACHED).0, NCLASSES - 1);
    }
}
