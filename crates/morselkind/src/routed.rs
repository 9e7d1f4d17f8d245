//! Frees routed by the page tag alone: no directory lookup, no kind from the caller.
//!
//! A few kinds (at most [`MAX_ROUTES`]: a tiering interposer's tiers) can be given a *route*,
//! 1 to 3, with [`add_route`]. The page tag a thread cache writes for a block of a routed kind
//! (see `directory`) then holds the route beside the class: `route << 6 | (class + 1)`. Tags of
//! other kinds have route 0, and 0 is still "ask jemalloc"; the debug tag (`0xff`) decodes to a
//! class that does not exist, so it is never routed.
//!
//! [`free_fast_sized`] reads that one byte (the leaf of the directory that covers the address,
//! then the byte): a routed tag names the kind and the class, so the block goes straight into
//! the thread's bin for that kind, and the caller learns which route and how many usable bytes
//! were freed (a tiering interposer counts them per tier). Anything else (route 0, no tag, a
//! full bin of a kind that is not DEFAULT) is left to the caller's general path.
//!
//! # Why a tag can be trusted without a lookup
//! While a block is live, the last tag written for the page it starts in is its own (the rule
//! in `directory`). A pointer that is not ours (the C library's) lies in a page where we never
//! wrote a tag, or where we wrote one while the page was in a morsel of ours: the tags of a
//! span are cleared when the span is removed from the directory, before its morsels are
//! unmapped (`directory::remove`), so a foreign mapping later made at the same address reads 0.
//!
//! A route names a kind-table entry. The interposer routes its tiers for the life of the
//! process; a routed kind that is destroyed leaves no tag behind (its spans are removed), and
//! a kind later made in the same entry writes routed tags for its own blocks, which route to
//! it. So a route is never wrong, only possibly unused.

use std::num::NonZeroU8;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::directory;
use crate::kind::{Kind, KindInner};
use crate::sizes::{CLASS_SIZE, NCLASSES};
use crate::tls::{ThreadWord, TlsDescriptor};

/// How many kinds can have a route.
pub const MAX_ROUTES: usize = 3;

const ROUTE_SHIFT: u32 = 6;
const CLASS_MASK: u8 = (1 << ROUTE_SHIFT) - 1;

// Every class + 1 fits below the route bits, and no routed tag is the debug tag.
const _: () = assert!(NCLASSES < CLASS_MASK as usize);
const _: () = assert!(MAX_ROUTES < 1 << (8 - ROUTE_SHIFT));

/// The kind of each route (index 0 unused: route 0 is "not routed").
static ROUTES: [AtomicPtr<KindInner>; MAX_ROUTES + 1] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_ROUTES + 1];

/// Gives `kind` a route (1..=[`MAX_ROUTES`]), or returns the one it has; `None` when every
/// route is taken. From then on the blocks its thread caches hand out carry the route in their
/// page tags. Routes are never taken back.
pub fn add_route(kind: Kind) -> Option<NonZeroU8> {
    static ADDING: morsel::lock::Lock<()> = morsel::lock::Lock::new(());
    let _one_at_a_time = ADDING.lock();
    let entry = kind.entry().cast_mut();
    for (r, slot) in ROUTES.iter().enumerate().skip(1) {
        let cur = slot.load(Ordering::Acquire);
        if cur == entry {
            return NonZeroU8::new(r as u8);
        }
        if cur.is_null() {
            // Release: the route is visible before any tag naming it is written (the writer
            // reads it with Acquire, or on the thread that added it).
            slot.store(entry, Ordering::Release);
            return NonZeroU8::new(r as u8);
        }
    }
    None
}

/// The route of `kind`, or `None`.
pub fn route_of(kind: Kind) -> Option<NonZeroU8> {
    NonZeroU8::new(route_bits(kind) >> ROUTE_SHIFT)
}

/// The route bits to put in the tags of `kind`'s cached blocks (0 when it has no route).
#[inline]
pub(crate) fn route_bits(kind: Kind) -> u8 {
    let entry = kind.entry();
    for (r, slot) in ROUTES.iter().enumerate().skip(1) {
        let cur = slot.load(Ordering::Acquire);
        if std::ptr::eq(cur, entry) {
            return (r as u8) << ROUTE_SHIFT;
        }
        if cur.is_null() {
            break;
        }
    }
    0
}

/// The tag of a cached block of `kind` and small class `class` (below NCLASSES).
#[inline]
pub(crate) fn tag_of(kind: Kind, class: usize) -> u8 {
    route_bits(kind) | (class as u8 + 1)
}

/// The class a tag gives (routed or not), or `None` for "ask jemalloc" and the debug tag.
#[inline(always)]
pub(crate) fn class_of_tag(tag: u8) -> Option<usize> {
    let class = ((tag & CLASS_MASK) as usize).wrapping_sub(1);
    (class < NCLASSES).then_some(class)
}

/// The tag of the page holding `addr` (0 where none was written, or where it was cleared):
/// for tests and diagnostics.
pub fn page_tag(addr: usize) -> u8 {
    directory::tag(addr)
}

/// What [`free_fast_sized`] freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routed {
    /// The route of the block's kind (see [`add_route`]).
    pub route: NonZeroU8,
    /// Its usable size (its class's size).
    pub usable: usize,
}

/// Frees `ptr` when its page tag routes it (a small block of a routed kind): into the calling
/// thread's bin for that kind, or, for DEFAULT with a full bin, jemalloc's thread cache behind
/// it. Returns the route and usable size freed, or `None` with nothing done: the caller frees
/// the block its general way (a directory lookup).
///
/// # Safety
/// `ptr` must be a live block of one of our kinds or of the C library's malloc (never one of
/// ours after its kind was destroyed), not used again if this returns `Some`.
#[inline(always)]
pub unsafe fn free_fast_sized(ptr: NonNull<u8>) -> Option<Routed> {
    // SAFETY: forwarded from the caller.
    unsafe { free_fast_sized_via::<TlsDescriptor>(ptr) }
}

/// [`free_fast_sized`], reaching the thread's cache the way `W` says (see
/// [`TlsInitialExec`](crate::TlsInitialExec)).
///
/// # Safety
/// As for [`free_fast_sized`].
#[inline(always)]
pub unsafe fn free_fast_sized_via<W: ThreadWord>(ptr: NonNull<u8>) -> Option<Routed> {
    let tag = directory::tag(ptr.as_ptr() as usize);
    let route = NonZeroU8::new(tag >> ROUTE_SHIFT)?;
    let class = class_of_tag(tag)?;
    // SAFETY: a routed tag is written only after its route was added (see `add_route`), and
    // routes are never cleared; the index is at most MAX_ROUTES.
    let entry = unsafe { ROUTES.get_unchecked(route.get() as usize) }.load(Ordering::Relaxed);
    // SAFETY: per the module comment, a routed tag on the page `ptr` starts in means `ptr` is a
    // live block of class `class` of the kind in `entry`, a live table entry.
    let freed = unsafe {
        if std::ptr::eq(entry, Kind::DEFAULT.entry()) {
            // The constant: its cache slot needs no arithmetic on the loaded entry.
            Kind::DEFAULT.free_class::<W>(ptr, class)
        } else {
            let kind = Kind::from_entry(entry);
            crate::cache::push_routed::<W>(route.get() as usize, kind, ptr, class)
                || kind.free_class::<W>(ptr, class)
        }
    };
    // SAFETY: class < NCLASSES.
    freed.then(|| Routed { route, usable: *unsafe { CLASS_SIZE.get_unchecked(class) } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_encode_route_and_class() {
        for class in 0..NCLASSES {
            assert_eq!(class_of_tag(class as u8 + 1), Some(class));
            for r in 1..=MAX_ROUTES as u8 {
                let tag = r << ROUTE_SHIFT | (class as u8 + 1);
                assert_ne!(tag, directory::DEBUG_TAG);
                assert_eq!(class_of_tag(tag), Some(class));
            }
        }
        assert_eq!(class_of_tag(0), None);
        assert_eq!(class_of_tag(directory::DEBUG_TAG), None);
    }
}
