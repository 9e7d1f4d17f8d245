//! Per-kind byte counters, cheap enough to update on every allocation (memkind's scheme).
//!
//! Each thread adds to a bucket of its own (256 buckets, threads take them round-robin), and a
//! bucket's count moves into the kind's global counter when it passes 50 KiB. The policies
//! read only the global counters: a relaxed load per tier. A row of buckets belongs to one
//! thread (no false sharing between the first 256 threads).
//!
//! When a bucket moves is memkind's, to the byte, so that STATIC_RATIO decides as memkind does
//! call for call (the differential placement test checks it). memkind compares the bucket,
//! a `long long`, after adding a `size_t`: the sum is unsigned. So an allocation moves the
//! bucket when it holds more than 50 KiB *or less than zero*, and a free moves it when it holds
//! less than −50 KiB *or zero or more*, that is after nearly every free. Frees thus keep the
//! global counters close; allocations batch.
//!
//! Besides the *live* bytes that drive the policies (allocated minus freed, in usable bytes),
//! we keep, per kind, how many allocations it served and how many bytes in all, for reports
//! (`morselkind run`). Those two are approximate past 256 threads (see [`on_alloc`]).
//!
//! A destroyed kind's counters are reset (memkind's `memtier_reset_size`), through the hook
//! `Kind::destroy` calls, set when a thread first counts anything.
//!
//! Nothing here allocates: the tables are statics (zero-filled, so only the pages of rows in
//! use are ever touched).

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

use morselkind::{Kind, MAX_KIND};

pub mod sampler;

/// Thread buckets (memkind's `THREAD_BUCKETS`).
pub const BUCKETS: usize = 256;
/// A bucket is moved to the global counter when it passes this many bytes (memkind's
/// `FLUSH_THRESHOLD`, 50 KiB).
pub const FLUSH_THRESHOLD: i64 = 51200;

#[repr(C, align(64))]
struct Row {
    live: [AtomicI64; MAX_KIND],
    allocs: [AtomicU64; MAX_KIND],
    bytes: [AtomicU64; MAX_KIND],
}

#[allow(clippy::declare_interior_mutable_const)]
const ROW: Row = Row {
    live: [const { AtomicI64::new(0) }; MAX_KIND],
    allocs: [const { AtomicU64::new(0) }; MAX_KIND],
    bytes: [const { AtomicU64::new(0) }; MAX_KIND],
};

static ROWS: [Row; BUCKETS] = [ROW; BUCKETS];
static GLOBAL: [AtomicI64; MAX_KIND] = [const { AtomicI64::new(0) }; MAX_KIND];
static NEXT_BUCKET: AtomicU32 = AtomicU32::new(0);

thread_local! {
    static BUCKET: Cell<u32> = const { Cell::new(u32::MAX) };
}

/// The rows handed out so far: the others were never touched, and sums skip them (a forked
/// child's reset, for one, then touches a few pages instead of 3 MiB).
fn rows_in_use() -> &'static [Row] {
    let n = (NEXT_BUCKET.load(Ordering::Relaxed) as usize).min(BUCKETS);
    &ROWS[..n.max(1)]
}

#[inline(always)]
fn row() -> &'static Row {
    let b = BUCKET
        .try_with(|b| {
            let v = b.get();
            if v != u32::MAX {
                return v;
            }
            let v = NEXT_BUCKET.fetch_add(1, Ordering::Relaxed) % BUCKETS as u32;
            b.set(v);
            // Nothing was counted before a thread took its bucket, so no kind destroyed before
            // this needs a reset.
            Kind::set_destroy_hook(reset);
            v
        })
        .unwrap_or(0);
    &ROWS[b as usize]
}

/// Counts an allocation of `usable` bytes from `kind` (nothing for a failed one: 0 bytes).
#[inline]
pub fn on_alloc(kind: Kind, usable: usize) {
    if usable == 0 {
        return;
    }
    let k = kind.index();
    let r = row();
    // Report-only totals: a plain load and store, no locked instruction. A row belongs to one
    // thread unless there are more than 256 of them; then an increment can be lost now and
    // then, which a report can afford and the policies never see.
    r.allocs[k].store(r.allocs[k].load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    r.bytes[k].store(r.bytes[k].load(Ordering::Relaxed) + usable as u64, Ordering::Relaxed);
    let v = r.live[k].fetch_add(usable as i64, Ordering::Relaxed) + usable as i64;
    // memkind's unsigned comparison: more than 50 KiB, or below zero.
    if !(0..=FLUSH_THRESHOLD).contains(&v) {
        flush(&r.live[k], k);
    }
}

/// Counts the release of `usable` bytes back to `kind`.
#[inline]
pub fn on_free(kind: Kind, usable: usize) {
    if usable == 0 {
        return;
    }
    let k = kind.index();
    let r = row();
    let v = r.live[k].fetch_sub(usable as i64, Ordering::Relaxed) - usable as i64;
    // memkind's unsigned comparison: below −50 KiB, or zero and above.
    if !(-FLUSH_THRESHOLD..0).contains(&v) {
        flush(&r.live[k], k);
    }
}

/// Counts at once what a caller batched itself (libmorseltier's threads): `live` bytes
/// (allocated minus freed, usable bytes; negative when more was freed), and `allocs`
/// allocations of `bytes` usable bytes in all. The batch is its own bucket: `live` goes to the
/// global counter the policies read at once (one atomic addition per batch), the totals to the
/// thread's row.
pub fn add_batch(kind: Kind, live: i64, allocs: u64, bytes: u64) {
    let k = kind.index();
    if allocs != 0 || bytes != 0 {
        let r = row();
        // As in `on_alloc`: report-only, a plain load and store.
        r.allocs[k].store(r.allocs[k].load(Ordering::Relaxed) + allocs, Ordering::Relaxed);
        r.bytes[k].store(r.bytes[k].load(Ordering::Relaxed) + bytes, Ordering::Relaxed);
    }
    if live != 0 {
        GLOBAL[k].fetch_add(live, Ordering::Relaxed);
        sampler::tick();
    }
}

#[cold]
fn flush(bucket: &AtomicI64, k: usize) {
    let v = bucket.swap(0, Ordering::Relaxed);
    GLOBAL[k].fetch_add(v, Ordering::Relaxed);
    sampler::tick();
}

/// The kind's live bytes as the policies see them (the global counter; never negative).
#[inline]
pub fn approx_live(kind: Kind) -> u64 {
    GLOBAL[kind.index()].load(Ordering::Relaxed).max(0) as u64
}

/// The kind's live bytes exactly: drains every bucket into the global counter first
/// (memkind's `memtier_kind_allocated_size`).
pub fn allocated_size(kind: Kind) -> usize {
    let k = kind.index();
    let drained: i64 = rows_in_use().iter().map(|r| r.live[k].swap(0, Ordering::Relaxed)).sum();
    let total = GLOBAL[k].fetch_add(drained, Ordering::Relaxed) + drained;
    total.max(0) as usize
}

/// What a kind received since the start (or the last [`reset_totals`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Allocations served.
    pub allocs: u64,
    /// Usable bytes handed out, in all.
    pub bytes: u64,
}

/// The allocations and bytes `kind` has served.
pub fn totals(kind: Kind) -> Totals {
    let k = kind.index();
    rows_in_use().iter().fold(Totals::default(), |t, r| Totals {
        allocs: t.allocs + r.allocs[k].load(Ordering::Relaxed),
        bytes: t.bytes + r.bytes[k].load(Ordering::Relaxed),
    })
}

/// Forgets everything counted for `kind` (it was destroyed; its table entry may be reused).
pub fn reset(kind: Kind) {
    let k = kind.index();
    for r in rows_in_use() {
        r.live[k].store(0, Ordering::Relaxed);
        r.allocs[k].store(0, Ordering::Relaxed);
        r.bytes[k].store(0, Ordering::Relaxed);
    }
    GLOBAL[k].store(0, Ordering::Relaxed);
}

/// Zeroes every kind's totals (a forked child reports only its own allocations).
pub fn reset_totals() {
    for r in rows_in_use() {
        for c in r.allocs.iter().chain(r.bytes.iter()) {
            c.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use morselkind::StaticKind;

    #[test]
    fn buckets_flush_at_50k() {
        // A kind no other test of this crate counts on.
        let k = StaticKind::HighestBandwidthLocalPreferred.kind();
        let before = approx_live(k);
        on_alloc(k, 50_000);
        assert_eq!(approx_live(k), before, "below the flush threshold, the global counter waits");
        on_alloc(k, 2_000);
        assert_eq!(approx_live(k), before + 52_000);
        on_alloc(k, 1_000);
        assert_eq!(approx_live(k), before + 52_000, "allocations batch");
        on_free(k, 500);
        assert_eq!(approx_live(k), before + 52_500, "a free leaving the bucket at 0 or more moves it");
        on_free(k, 52_500);
        assert_eq!(allocated_size(k), before as usize);
        let t = totals(k);
        assert_eq!((t.allocs, t.bytes), (3, 53_000));
    }

    #[test]
    fn batches_reach_the_global_counter_at_once() {
        // A kind no other test of this crate counts on.
        let k = StaticKind::HighestBandwidthLocal.kind();
        let before = approx_live(k);
        let t0 = totals(k);
        add_batch(k, 4096, 10, 4096);
        assert_eq!(approx_live(k), before + 4096);
        add_batch(k, -1024, 0, 0);
        assert_eq!(approx_live(k), before + 3072);
        assert_eq!(allocated_size(k), before as usize + 3072);
        let t = totals(k);
        assert_eq!((t.allocs - t0.allocs, t.bytes - t0.bytes), (10, 4096));
        add_batch(k, -3072, 0, 0);
        assert_eq!(allocated_size(k), before as usize);
    }
}
