//! Per kind and size class, a bounded stack of free blocks that the kind's threads share,
//! between their thread caches (`crate::cache`) and the kind's jemalloc arenas.
//!
//! # Why
//! A thread cache's bin that fills up gives half of itself back, and one that runs dry takes a
//! few dozen blocks. Through the arena that costs one locked `sdallocx` per block given back
//! (jemalloc has no batch free; about 340 instructions and a lock each) and one `batch_alloc`
//! per fill. DEFAULT avoids it by sending its misses to jemalloc's own thread cache, which
//! moves blocks to and from the arena a slab at a time; no other kind can, since jemalloc's
//! implicit cache must only ever hold DEFAULT's blocks, and explicit jemalloc caches would have
//! to be flushed for every thread before a kind's arenas are destroyed. The depot takes those
//! overflows instead: a flush moves half a bin into it under one short lock (a copy of
//! pointers), and a fill takes them back the same way, so a thread whose bin swings between
//! empty and full (the common case: a loop that allocates then frees) never reaches the arena.
//! What the depot cannot hold goes to the arena as before.
//!
//! # Bounds and lifetime
//! A class's stack holds at most one thread bin's worth (about 32 KiB of blocks, see
//! `cache::BIN_CAP_OF`): at most about 1 MiB per kind and shard (4 shards), and only for classes in use.
//! Jemalloc counts depot blocks as allocated, as it does thread-cached ones, so the two paths
//! that need exact figures drain it: `update_cached_stats` and the retry of a limited or full
//! kind (`heap::reclaim`), both through `cache::flush`.
//!
//! A kind's depot is made on its first overflow, never freed, and reused by the kinds that
//! later take its table slot. Every call that moves blocks runs inside the calling thread's
//! busy window for the kind (`crate::busy`), so when `Kind::destroy` has waited every thread
//! out (`cache::before_destroy`), nobody touches the depot, and its blocks, which belong to
//! arenas about to go, are forgotten ([`forget`]), never freed.
//!
//! # Locks
//! One lock per kind and class, a leaf: nothing else is taken while it is held (blocks are
//! copied out first and freed to jemalloc after it is released). Depots are made under the
//! thread registry's lock (`cache::THREADS`), which the fork handlers hold, so [`fork_lock`]
//! sees every depot and holds all their locks across a fork; no child inherits a held one.

use std::sync::atomic::{AtomicPtr, Ordering};

use morsel::lock::Lock;
use tikv_jemalloc_sys as je;

use crate::cache::SLOTS;
use crate::kind::{Kind, MAX_KIND};
use crate::meta::{MetaAlloc, MetaBox};
use crate::sizes::NCLASSES;

/// One class's stack: `n` blocks at `items[..n]`, room for `cap`.
struct Stack {
    n: u32,
    cap: u32,
    items: *mut *mut u8,
}

// SAFETY: `items` points into the depot that holds the stack, which is never freed; it is
// reached only under the stack's lock.
unsafe impl Send for Stack {}

impl Stack {
    fn slots(&mut self) -> &mut [*mut u8] {
        // SAFETY: `items` points at `cap` slots of this depot, reached only under the lock.
        unsafe { std::slice::from_raw_parts_mut(self.items, self.cap as usize) }
    }
}

/// A kind's stacks, one per class, and their slots, laid out as a thread cache's.
#[repr(C)]
struct KindDepot {
    stacks: [Lock<Stack>; NCLASSES],
    slots: [*mut u8; SLOTS],
}

/// Depots per kind. A thread uses the one of its slot (`kind::thread_slot`, which also picks
/// its arena), so that threads on different cores seldom trade blocks: a small block handed
/// from one core to another shares its cache lines with the blocks the first core still
/// writes (the 2-thread pair workload on a PMEM kind ran 1.14-1.24x jemalloc's time with one
/// depot per kind).
const SHARDS: usize = 4;

/// Every kind's depots, by table index and shard; null until a thread of that shard first
/// overflows.
static DEPOTS: [[AtomicPtr<KindDepot>; SHARDS]; MAX_KIND] =
    [const { [const { AtomicPtr::new(std::ptr::null_mut()) }; SHARDS] }; MAX_KIND];

/// The calling thread's shard.
fn shard() -> usize {
    crate::kind::thread_slot() as usize % SHARDS
}

fn depot_at(kind: Kind, shard: usize) -> Option<&'static KindDepot> {
    // Acquire: pairs with the Release store in `make`, so the stacks' set-up is seen.
    let d = DEPOTS[kind.index()][shard].load(Ordering::Acquire);
    // SAFETY: a published depot is never freed.
    unsafe { d.as_ref() }
}

/// The calling thread's depot for `kind`.
fn depot(kind: Kind) -> Option<&'static KindDepot> {
    depot_at(kind, shard())
}

/// Makes the calling thread's depot for `kind` if there is none (nothing where memory is short). The caller holds the
/// thread registry's lock (see the module's note on fork) and is outside any busy window: a
/// destroyer holds that lock while it waits for busy threads.
pub(crate) fn make(kind: Kind) {
    if depot(kind).is_some() {
        return;
    }
    let Ok(fresh) = MetaBox::<KindDepot>::try_new_zeroed_in(MetaAlloc) else { return };
    // SAFETY: all zero is a valid depot: free locks (RawLock's FREE is 0), empty stacks, null
    // pointers.
    let d = MetaBox::into_raw(unsafe { fresh.assume_init() });
    // SAFETY: fresh and not yet shared.
    let base = unsafe { (*d).slots.as_mut_ptr() };
    let mut at = 0;
    for class in 0..NCLASSES {
        let cap = crate::cache::bin_cap(class);
        // SAFETY: fresh and not yet shared.
        let mut s = unsafe { (*d).stacks[class].lock() };
        // SAFETY: the classes' ranges, one bin's capacity each, add up to SLOTS.
        s.items = unsafe { base.add(at) };
        s.cap = cap as u32;
        at += cap;
    }
    // Release: see `depot_at`. Only this thread makes depots (under the registry's lock).
    DEPOTS[kind.index()][shard()].store(d, Ordering::Release);
}

/// Whether the calling thread's depot for `kind` exists yet.
pub(crate) fn exists(kind: Kind) -> bool {
    depot(kind).is_some()
}

/// Moves blocks of `class` from the end of `blocks` into `kind`'s depot, as many as it has
/// room for; returns how many it took (0 where the kind has no depot). Inside the caller's
/// busy window for `kind`.
pub(crate) fn put(kind: Kind, class: usize, blocks: &[*mut u8]) -> usize {
    let Some(d) = depot(kind) else { return 0 };
    let mut s = d.stacks[class].lock();
    let n = s.n as usize;
    let take = (s.cap as usize - n).min(blocks.len());
    s.slots()[n..n + take].copy_from_slice(&blocks[blocks.len() - take..]);
    s.n = (n + take) as u32;
    take
}

/// Moves up to `out.len()` blocks of `class` from `kind`'s depot into `out`; returns how many.
/// Inside the caller's busy window for `kind`.
pub(crate) fn take(kind: Kind, class: usize, out: &mut [*mut u8]) -> usize {
    depot(kind).map_or(0, |d| take_from(d, class, out))
}

fn take_from(d: &KindDepot, class: usize, out: &mut [*mut u8]) -> usize {
    let mut s = d.stacks[class].lock();
    let n = s.n as usize;
    let got = n.min(out.len());
    out[..got].copy_from_slice(&s.slots()[n - got..n]);
    s.n = (n - got) as u32;
    got
}

/// Gives every block in `kind`'s depots back to its arenas. Inside the caller's busy window
/// for `kind`.
pub(crate) fn drain(kind: Kind) {
    for shard in 0..SHARDS {
        if let Some(d) = depot_at(kind, shard) {
            drain_one(d);
        }
    }
}

fn drain_one(d: &KindDepot) {
    let mut batch = [std::ptr::null_mut::<u8>(); 64];
    for class in 0..NCLASSES {
        loop {
            let got = take_from(d, class, &mut batch);
            if got == 0 {
                break;
            }
            for &p in &batch[..got] {
                // SAFETY: a free block of this live kind (the caller's window is open), owned
                // by us since `take` removed it from the depot.
                unsafe { je::dallocx(p.cast(), je::MALLOCX_TCACHE_NONE) };
            }
        }
    }
}

/// Forgets the blocks of a kind being destroyed: every thread has been waited out of its
/// busy window, and the arenas the blocks belong to are about to be destroyed.
pub(crate) fn forget(kind: Kind) {
    for d in (0..SHARDS).filter_map(|shard| depot_at(kind, shard)) {
        for s in &d.stacks {
            s.lock().n = 0;
        }
    }
}

/// Takes every depot's locks for a fork; the caller holds the thread registry, so no depot
/// is made meanwhile.
pub(crate) fn fork_lock() {
    for slot in DEPOTS.iter().flatten() {
        // SAFETY: a published depot is never freed.
        if let Some(d) = unsafe { slot.load(Ordering::Acquire).as_ref() } {
            d.stacks.iter().for_each(|s| s.raw().acquire());
        }
    }
}

/// Releases what [`fork_lock`] took, in the parent and in the child.
///
/// # Safety
/// Only after [`fork_lock`], by the thread that called it (or the child it forked).
pub(crate) unsafe fn fork_unlock() {
    for slot in DEPOTS.iter().flatten() {
        // SAFETY: a published depot is never freed.
        if let Some(d) = unsafe { slot.load(Ordering::Acquire).as_ref() } {
            // SAFETY: taken by `fork_lock`, without a guard.
            d.stacks.iter().for_each(|s| unsafe { s.raw().release() });
        }
    }
}
