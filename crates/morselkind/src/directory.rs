//! The pointer→kind directory: one word per 2 MiB slot of the 47-bit address space, indexed by
//! `addr >> 21`, written when a span (a morsel, or a caller's FIXED region) is registered and
//! cleared when it is removed. A lookup is a shift and two loads, without locks.
//!
//! The slots live in *leaves*, one per 1 GiB of address space that holds a span of ours, found
//! through a static top table (`addr >> 30`: 128 Ki pointers, 1 MiB of zero pages in .bss).
//! A leaf is mapped when the first span touching its gigabyte is registered and kept for the
//! life of the process (so lookups need no lock), which costs address space only where we have
//! memory: under RLIMIT_AS (`ulimit -v`) a flat table of the whole space would not fit.
//!
//! A slot word is 0 (nothing of ours), a pointer to the [`Span`] that covers the whole slot, or,
//! tagged with bit 0, a pointer to a [`PartialSlot`]: the few spans that share the slot with each
//! other or with memory that is not ours (the edges of FIXED regions), checked by range.
//!
//!
//! Beside it, one *tag* byte per 4 KiB page says which small size class the blocks that start
//! in that page have (class + 1), or 0 for "ask jemalloc". It saves the thread caches jemalloc's
//! size lookup on free. The rule that keeps it exact: whoever hands out a block of a cached
//! kind writes the tag of the page the block starts in first (the class after a cache fill, 0
//! on every other path). A page belongs to one jemalloc extent at a time (a slab of one class,
//! or one large block), and a page is reused for another extent only after every block
//! starting in it is freed; so while a block is live, the last tag written for its page is its
//! own. Stale tags sit only on pages where no live block starts. The tags of a gigabyte live in
//! its leaf (256 KiB, one byte per page), beside its slots. Partial slots are type-stable (kept
//! on a free list, never unmapped), so a concurrent lookup never reads freed memory. Writers
//! serialise on one mutex: registration happens once per morsel, not per allocation.

use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering};

use morsel::lock::Lock;

use crate::meta::MetaBox;

const SLOT_SHIFT: u32 = 21;
const VA_BITS: u32 = 47;
const PARTIAL: usize = 1;
const RANGES: usize = 8;

/// A range of address space owned by one kind.
#[derive(Debug)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// The owner: a pointer to the kind's table entry (opaque here).
    pub owner: usize,
}

impl Span {
    fn contains(&self, addr: usize) -> bool {
        addr >= self.start && addr < self.end
    }
}

/// Spans that share one 2 MiB slot; `base` is a span covering the whole slot underneath them
/// (a FIXED region carved out of memory that is itself one of our morsels), or null.
pub struct PartialSlot {
    ranges: [AtomicPtr<Span>; RANGES],
    base: AtomicPtr<Span>,
    next_free: AtomicPtr<PartialSlot>,
}

/// The tag cache fills write with MORSELKIND_DEBUG=1: no class, so every free of the block
/// takes the slow path, which checks for double frees.
pub const DEBUG_TAG: u8 = u8::MAX;

const LEAF_SHIFT: u32 = 30;
const LEAVES: usize = 1 << (VA_BITS - LEAF_SHIFT);
const SLOTS_PER_LEAF: usize = 1 << (LEAF_SHIFT - SLOT_SHIFT);
const TAG_SHIFT: u32 = 12;
const TAGS_PER_LEAF: usize = 1 << (LEAF_SHIFT - TAG_SHIFT);

/// The slots and page tags of one gigabyte of address space.
#[repr(C)]
struct Leaf {
    slots: [AtomicUsize; SLOTS_PER_LEAF],
    tags: [AtomicU8; TAGS_PER_LEAF],
}

static TOP: [AtomicPtr<Leaf>; LEAVES] = [const { AtomicPtr::new(std::ptr::null_mut()) }; LEAVES];
static WRITERS: Lock<()> = Lock::new(());
static FREE_PARTIALS: AtomicPtr<PartialSlot> = AtomicPtr::new(std::ptr::null_mut());

/// The leaf covering `addr`, if one is mapped (and `addr` is below 1 << VA_BITS).
#[inline(always)]
fn leaf(addr: usize) -> Option<&'static Leaf> {
    let top = TOP.get(addr >> LEAF_SHIFT)?;
    // SAFETY: published leaves are mapped, zero-initialised (valid atomics) and never unmapped.
    unsafe { top.load(Ordering::Acquire).as_ref() }
}

/// The leaf covering `addr`, mapped now if it is not yet. Under WRITERS.
fn leaf_or_map(addr: usize) -> Result<&'static Leaf, crate::Error> {
    if let Some(l) = leaf(addr) {
        return Ok(l);
    }
    let top = TOP.get(addr >> LEAF_SHIFT).ok_or(crate::Error::Invalid)?;
    let len = std::mem::size_of::<Leaf>().next_multiple_of(morsel::PAGE_SIZE);
    let at = morsel::sys::reserve(len, morsel::PAGE_SIZE)?;
    // SAFETY: a fresh reservation, ours alone, kept for the life of the process.
    if let Err(e) = unsafe { morsel::sys::map_anon_fixed(at, len) } {
        // SAFETY: our own reservation, never published.
        let _ = unsafe { morsel::sys::unmap(at, len) };
        return Err(e.into());
    }
    top.store(at as *mut Leaf, Ordering::Release);
    // SAFETY: just published; zero pages are valid atomics.
    Ok(unsafe { &*(at as *const Leaf) })
}

/// The slot word of `slot` (an `addr >> SLOT_SHIFT`), if its leaf is mapped.
fn slot_entry(slot: usize) -> Option<&'static AtomicUsize> {
    leaf(slot << SLOT_SHIFT).map(|l| &l.slots[slot % SLOTS_PER_LEAF])
}

/// The tag slot of the page holding `addr`, if its leaf is mapped.
#[inline(always)]
fn tag_slot(addr: usize) -> Option<&'static AtomicU8> {
    leaf(addr).map(|l| &l.tags[(addr >> TAG_SHIFT) % TAGS_PER_LEAF])
}

/// The tag of the page where the block at `addr` starts: its small class + 1, or 0 (unknown).
/// Only meaningful for a live block of a cached kind (see the module comment).
#[inline(always)]
pub fn tag(addr: usize) -> u8 {
    // Relaxed: the block was handed to the caller after its tag was written, through whatever
    // synchronisation passed the pointer along.
    tag_slot(addr).map_or(0, |t| t.load(Ordering::Relaxed))
}

/// Records the tag of a block about to be handed out (see the module comment).
#[inline(always)]
pub fn set_tag(addr: usize, tag: u8) {
    if let Some(t) = tag_slot(addr) {
        // Most fills write the value already there; skip the store (and its cache-line dirtying).
        if t.load(Ordering::Relaxed) != tag {
            t.store(tag, Ordering::Relaxed);
        }
    }
}

/// Zeroes the tags of every page that overlaps `start..end` (where its leaf is mapped).
/// Untouched tag pages are only read (the zero page), never written.
fn clear_tags(start: usize, end: usize) {
    let mut page = start >> TAG_SHIFT;
    let last = end.saturating_sub(1) >> TAG_SHIFT;
    while page <= last {
        let addr = page << TAG_SHIFT;
        // The rest of this leaf's pages, or up to the last.
        let leaf_end = ((addr >> LEAF_SHIFT) + 1) << (LEAF_SHIFT - TAG_SHIFT);
        let stop = last.min(leaf_end - 1);
        if let Some(l) = leaf(addr) {
            for p in page..=stop {
                let t = &l.tags[p % TAGS_PER_LEAF];
                if t.load(Ordering::Relaxed) != 0 {
                    t.store(0, Ordering::Relaxed);
                }
            }
        }
        page = stop + 1;
    }
}

fn slot_of(addr: usize) -> Option<usize> {
    (addr >> VA_BITS == 0).then_some(addr >> SLOT_SHIFT)
}

/// In a forked child (its only thread): releases WRITERS should a vanished thread have held it
/// at the fork. Writers run under a provider's carver or the kind registry, which the fork
/// handlers account for (see `crate::fork`).
///
/// # Safety
/// Only in a forked child, before any other thread exists.
pub(crate) unsafe fn reset_after_fork() {
    if WRITERS.raw().is_held() {
        // SAFETY: the holder does not exist in the child.
        unsafe { WRITERS.raw().release() }
    }
}

/// The span holding `addr`, if it is ours.
#[inline(always)]
pub fn lookup(addr: usize) -> Option<&'static Span> {
    let word = leaf(addr)?.slots[(addr >> SLOT_SHIFT) % SLOTS_PER_LEAF].load(Ordering::Acquire);
    if word == 0 {
        return None;
    }
    if word & PARTIAL == 0 {
        // SAFETY: full-slot words point at spans that stay alive until removed, which happens
        // only when their kind is destroyed (using its memory after that is the caller's bug).
        return Some(unsafe { &*(word as *const Span) });
    }
    lookup_partial(word, addr)
}

/// [`lookup`], and where [`tag`] would read, from one fetch of the leaf: the free path needs
/// the span, then the tag unless the block is DEFAULT's.
#[inline(always)]
pub fn lookup_and_tag(addr: usize) -> Option<(&'static Span, &'static AtomicU8)> {
    let leaf = leaf(addr)?;
    let word = leaf.slots[(addr >> SLOT_SHIFT) % SLOTS_PER_LEAF].load(Ordering::Acquire);
    if word == 0 {
        return None;
    }
    let span = if word & PARTIAL == 0 {
        // SAFETY: as in `lookup`.
        unsafe { &*(word as *const Span) }
    } else {
        lookup_partial(word, addr)?
    };
    Some((span, &leaf.tags[(addr >> TAG_SHIFT) % TAGS_PER_LEAF]))
}

/// The span holding `addr` in a slot shared by several spans (tagged word `word`).
#[inline(never)]
fn lookup_partial(word: usize, addr: usize) -> Option<&'static Span> {
    // SAFETY: partial slots are type-stable: never freed, only recycled.
    let partial = unsafe { &*((word & !PARTIAL) as *const PartialSlot) };
    for r in &partial.ranges {
        let span = r.load(Ordering::Acquire);
        // SAFETY: as for full-slot words.
        if let Some(span) = unsafe { span.as_ref() } {
            if span.contains(addr) {
                return Some(span);
            }
        }
    }
    // SAFETY: as for full-slot words.
    unsafe { partial.base.load(Ordering::Acquire).as_ref() }.filter(|s| s.contains(addr))
}

fn new_partial(base: *mut Span) -> *mut PartialSlot {
    let head = FREE_PARTIALS.load(Ordering::Acquire);
    // SAFETY: the free list is only touched under WRITERS, and its nodes are never freed.
    let slot = if let Some(p) = unsafe { head.as_ref() } {
        FREE_PARTIALS.store(p.next_free.load(Ordering::Relaxed), Ordering::Release);
        head
    } else {
        let fresh = PartialSlot {
            ranges: Default::default(),
            base: AtomicPtr::new(std::ptr::null_mut()),
            next_free: AtomicPtr::new(std::ptr::null_mut()),
        };
        MetaBox::into_raw(MetaBox::new_in(fresh, crate::meta::MetaAlloc))
    };
    // SAFETY: `slot` is ours until published.
    unsafe { (*slot).base.store(base, Ordering::Release) };
    slot
}

/// Registers `span` in every slot it touches.
///
/// # Safety
/// `span` must stay valid until [`remove`] is called with it.
pub unsafe fn insert(span: *const Span) -> Result<(), crate::Error> {
    let _w = WRITERS.lock();
    // SAFETY: the caller vouches for the span.
    let s = unsafe { &*span };
    let (first, last) = match (slot_of(s.start), slot_of(s.end - 1)) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err(crate::Error::Invalid),
    };
    for slot in first..=last {
        let entry = match leaf_or_map(slot << SLOT_SHIFT) {
            Ok(l) => &l.slots[slot % SLOTS_PER_LEAF],
            Err(e) => {
                drop(_w);
                // SAFETY: undo what was registered so far; the span is still valid.
                unsafe { remove(span) };
                return Err(e);
            }
        };
        let slot_start = slot << SLOT_SHIFT;
        let whole = s.start <= slot_start && s.end >= slot_start + (1 << SLOT_SHIFT);
        let word = entry.load(Ordering::Acquire);
        if whole && word == 0 {
            entry.store(span as usize, Ordering::Release);
            continue;
        }
        let partial = if word & PARTIAL != 0 {
            (word & !PARTIAL) as *mut PartialSlot
        } else {
            let p = new_partial(word as *mut Span);
            entry.store(p as usize | PARTIAL, Ordering::Release);
            p
        };
        // SAFETY: partial slots are type-stable and edited only under WRITERS.
        let partial = unsafe { &*partial };
        let free = partial.ranges.iter().find(|r| r.load(Ordering::Relaxed).is_null());
        match free {
            Some(r) => r.store(span as *mut Span, Ordering::Release),
            None => {
                drop(_w);
                // SAFETY: undo what was registered so far; the span is still valid.
                unsafe { remove(span) };
                return Err(crate::Error::Runtime);
            }
        }
    }
    Ok(())
}

/// Removes `span` from every slot it touches, and clears the tags of its pages: its memory
/// is about to be unmapped (or handed back to its caller), and whatever is mapped there later
/// is not ours, so no tag may route a free of it (`crate::routed`). Clearing a tag is always
/// safe: 0 only sends a free of a block of ours the slow way.
///
/// # Safety
/// `span` must have been passed to [`insert`] (or be absent from the table).
pub unsafe fn remove(span: *const Span) {
    let _w = WRITERS.lock();
    // SAFETY: the caller vouches for the span.
    let s = unsafe { &*span };
    clear_tags(s.start, s.end);
    let (Some(first), Some(last)) = (slot_of(s.start), slot_of(s.end - 1)) else { return };
    for entry in (first..=last).filter_map(slot_entry) {
        let word = entry.load(Ordering::Acquire);
        if word == span as usize {
            entry.store(0, Ordering::Release);
            continue;
        }
        if word & PARTIAL == 0 {
            continue;
        }
        let p = (word & !PARTIAL) as *mut PartialSlot;
        // SAFETY: type-stable, edited only under WRITERS.
        let partial = unsafe { &*p };
        for r in &partial.ranges {
            if std::ptr::eq(r.load(Ordering::Relaxed), span) {
                r.store(std::ptr::null_mut(), Ordering::Release);
            }
        }
        if std::ptr::eq(partial.base.load(Ordering::Relaxed), span) {
            partial.base.store(std::ptr::null_mut(), Ordering::Release);
        }
        if partial.ranges.iter().all(|r| r.load(Ordering::Relaxed).is_null()) {
            let base = partial.base.load(Ordering::Relaxed);
            entry.store(base as usize, Ordering::Release);
            partial.next_free.store(FREE_PARTIALS.load(Ordering::Relaxed), Ordering::Relaxed);
            FREE_PARTIALS.store(p, Ordering::Release);
        }
    }
}
