//! A tiered memory (memkind's `memtier_memory`): picks the tier of each allocation by its
//! policy, and counts what every kind holds.
//!
//! Both policies decide exactly as memkind 1.14's code does, so a program gets the same tier
//! for every call on either library (the differential placement test in
//! `tests/suites/memtier_api.sh` runs seeded sequences through both):
//!
//! STATIC_RATIO reads the global counters (see `counters`), never the size asked for: the
//! allocation goes to the *last* tier i ≥ 1 whose live bytes, weighted by ratio₀/ratioᵢ, are
//! below tier 0's; when there is none, to tier 0. (Session 2 had a rule of its own that added
//! the new block's size and took the tier furthest behind; it kept the ratio a little closer
//! with large blocks, but a program tuned against memkind saw other placements, so it is gone.)
//!
//! DYNAMIC_THRESHOLD sends an allocation to the first tier i whose threshold is above its size
//! (the last tier takes the rest). Every `check_cnt` allocating calls (frees do not count),
//! each threshold compares the live bytes of its two tiers, next/prev, with the target ratio;
//! when it is `trigger` or more off and not getting better, the threshold moves by `degree` of
//! itself (up when the next tier holds too much, which sends more allocations to the previous
//! tier), unless that step would take it past its min or max: then it stays where it is.
//! A check count of 0 wraps as memkind's `unsigned` does (no check for 2³² calls).

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use morselkind::{Error, Kind, Result};

use crate::counters;

/// The distance between default thresholds (memkind's `THRESHOLD_STEP`).
pub const THRESHOLD_STEP: usize = 1024;

/// The smallest grant [`Memory::grant`] gives.
pub const GRANT_MIN: usize = 4 << 10;
/// The largest grant [`Memory::grant`] gives.
pub const GRANT_MAX: usize = 64 << 10;

/// One threshold's settings, as a builder holds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThresholdCfg {
    /// The initial threshold: sizes below it go to the lower tier.
    pub val: usize,
    /// The lowest it may move to.
    pub min: usize,
    /// The highest it may move to.
    pub max: usize,
}

impl ThresholdCfg {
    /// memkind's default for threshold `i` (between tiers i and i+1).
    pub fn default_for(i: usize) -> ThresholdCfg {
        let n = i + 1;
        ThresholdCfg { val: THRESHOLD_STEP * n, min: THRESHOLD_STEP * n - 512, max: THRESHOLD_STEP * n + 511 }
    }
}

/// One tier of a memory.
#[derive(Clone, Copy, Debug)]
pub struct Tier {
    /// Its kind.
    pub kind: Kind,
    /// Its part of the ratio, as given.
    pub ratio: u32,
    /// ratio₀ / ratioᵢ: the weight STATIC_RATIO gives its live bytes.
    pub(crate) norm: f32,
}

/// One moving threshold, between tiers i and i+1.
#[derive(Debug)]
pub struct Threshold {
    val: AtomicUsize,
    min: usize,
    max: usize,
    /// ratioᵢ₊₁ / ratioᵢ: the target of next/prev live bytes.
    expected: f32,
    /// |achieved − expected| at the last check (f32 bits).
    diff: AtomicU32,
}

impl Threshold {
    pub(crate) fn new(cfg: ThresholdCfg, expected: f32) -> Threshold {
        Threshold {
            val: AtomicUsize::new(cfg.val),
            min: cfg.min,
            max: cfg.max,
            expected,
            diff: AtomicU32::new(0),
        }
    }

    /// The current threshold.
    pub fn val(&self) -> usize {
        self.val.load(Ordering::Relaxed)
    }

    /// Its bounds.
    pub fn bounds(&self) -> (usize, usize) {
        (self.min, self.max)
    }
}

#[derive(Debug)]
struct Dynamic {
    thresholds: Box<[Threshold]>,
    left: AtomicU32,
    check_cnt: u32,
    trigger: f32,
    degree: f32,
    updating: AtomicBool,
}

/// How a memory picks the tier of an allocation (the builder's [`crate::Policy`], made).
#[derive(Debug)]
enum TierRule {
    Single,
    Static,
    Dynamic(Dynamic),
}

/// A tiered memory. Shared between threads as it is (`&Memory`).
#[derive(Debug)]
pub struct Memory {
    tiers: Box<[Tier]>,
    rule: TierRule,
}

impl Memory {
    pub(crate) fn new_static(tiers: Vec<Tier>) -> Memory {
        let rule = if tiers.len() == 1 { TierRule::Single } else { TierRule::Static };
        Memory { tiers: tiers.into_boxed_slice(), rule }
    }

    pub(crate) fn new_dynamic(
        tiers: Vec<Tier>,
        thresholds: Vec<Threshold>,
        check_cnt: u32,
        trigger: f32,
        degree: f32,
    ) -> Memory {
        Memory {
            tiers: tiers.into_boxed_slice(),
            rule: TierRule::Dynamic(Dynamic {
                thresholds: thresholds.into_boxed_slice(),
                left: AtomicU32::new(check_cnt),
                check_cnt,
                trigger,
                degree,
                updating: AtomicBool::new(false),
            }),
        }
    }

    /// The tiers, in order.
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// The thresholds (DYNAMIC_THRESHOLD; empty otherwise).
    pub fn thresholds(&self) -> &[Threshold] {
        match &self.rule {
            TierRule::Dynamic(d) => &d.thresholds,
            _ => &[],
        }
    }

    /// The kind the next allocation of `size` bytes goes to.
    #[inline]
    pub fn pick(&self, size: usize) -> Kind {
        match &self.rule {
            TierRule::Single => self.tiers[0].kind,
            TierRule::Static => {
                // memkind compares `size_t × float < size_t` in single precision.
                let size0 = counters::approx_live(self.tiers[0].kind) as f32;
                let mut dest = 0;
                for (i, t) in self.tiers.iter().enumerate().skip(1) {
                    // A zero ratio makes the weight infinite, and 0 × ∞ is NaN, which compares
                    // false: such a tier gets nothing.
                    if (counters::approx_live(t.kind) as f32) * t.norm < size0 {
                        dest = i;
                    }
                }
                self.tiers[dest].kind
            }
            TierRule::Dynamic(d) => {
                let i = d.thresholds.iter().position(|t| size < t.val()).unwrap_or(d.thresholds.len());
                self.tiers[i].kind
            }
        }
    }

    /// Called after every allocating operation: DYNAMIC_THRESHOLD checks its thresholds every
    /// `check_cnt` of them.
    #[inline]
    pub fn after_op(&self) {
        if let TierRule::Dynamic(d) = &self.rule {
            // memkind: `if (--check_cnt > 0) return;` on an unsigned.
            if d.left.fetch_sub(1, Ordering::Relaxed).wrapping_sub(1) > 0 {
                return;
            }
            d.left.store(d.check_cnt, Ordering::Relaxed);
            self.update(d);
        }
    }

    /// DYNAMIC_THRESHOLD's `check_cnt` (allocating calls between threshold checks); `None`
    /// under other policies.
    pub fn check_cnt(&self) -> Option<u32> {
        match &self.rule {
            TierRule::Dynamic(d) => Some(d.check_cnt),
            _ => None,
        }
    }

    /// [`Memory::after_op`] for `n` allocating calls at once (a caller that counts its calls
    /// itself, libmorseltier's threads): the countdown to the next threshold check drops by `n`,
    /// and the check runs once if it reached zero on the way (memkind's `unsigned` countdown:
    /// with a check count of 0 it wraps, and checks every 2³² calls).
    pub fn after_ops(&self, n: u32) {
        if let TierRule::Dynamic(d) = &self.rule {
            if n == 0 {
                return;
            }
            let old = d.left.fetch_sub(n, Ordering::Relaxed);
            // The countdown passes zero within these n calls when 1 ≤ old ≤ n.
            if old == 0 || old > n {
                return;
            }
            d.left.store(d.check_cnt, Ordering::Relaxed);
            self.update(d);
        }
    }

    /// Batched STATIC_RATIO, for a caller that places many allocations per decision
    /// (libmorseltier: a thread allocates a grant of bytes from one tier, then asks again): the
    /// tier that the grant leaves furthest behind its share of the live bytes (the least live
    /// bytes per part of the ratio once the grant is added: a grant is a step, and the choice
    /// corrects for its size, so a small heap starts where the ratio wants most of it; tier 0
    /// on a tie, a tier of ratio 0 never), and how many bytes to allocate there before asking
    /// again: 1/256 of the tier's live bytes, from [`GRANT_MIN`] to [`GRANT_MAX`], so one grant
    /// moves a tier's share by at most about 0.4% once the heap is past 16 MiB. `pending` is
    /// the caller's own live bytes per tier not counted yet (added to the global counters for
    /// the choice), or empty.
    ///
    /// Under other policies: tier 0 and [`GRANT_MAX`] (one tier), or the tier [`Memory::pick`]
    /// gives for `size` with a grant of 0 (DYNAMIC_THRESHOLD decides by size).
    pub fn grant(&self, size: usize, pending: &[i64]) -> (usize, usize) {
        match &self.rule {
            TierRule::Single => (0, GRANT_MAX),
            TierRule::Dynamic(_) => {
                let k = self.pick(size);
                (self.tiers.iter().position(|t| t.kind == k).unwrap_or(0), 0)
            }
            TierRule::Static => {
                let live = |i: usize| {
                    let own = pending.get(i).copied().unwrap_or(0);
                    (counters::approx_live(self.tiers[i].kind) as i64 + own).max(0) as u64
                };
                let grant = |i: usize| (live(i) as usize / 256).clamp(GRANT_MIN, GRANT_MAX);
                let mut best = 0;
                let mut best_fill = f64::INFINITY;
                for (i, t) in self.tiers.iter().enumerate() {
                    if t.ratio == 0 {
                        continue;
                    }
                    // Live bytes per part of the ratio half-way through the grant (f64: exact
                    // to 2^53).
                    let fill = (live(i) + grant(i) as u64 / 2) as f64 / t.ratio as f64;
                    if fill < best_fill {
                        best = i;
                        best_fill = fill;
                    }
                }
                (best, grant(best))
            }
        }
    }

    #[cold]
    fn update(&self, d: &Dynamic) {
        if d.updating.swap(true, Ordering::Acquire) {
            return;
        }
        for (i, t) in d.thresholds.iter().enumerate() {
            let prev = counters::approx_live(self.tiers[i].kind);
            let next = counters::approx_live(self.tiers[i + 1].kind);
            let mut ratio = -1.0f32;
            if prev > 0 {
                ratio = next as f32 / prev as f32;
                let diff = (ratio - t.expected).abs();
                let last = f32::from_bits(t.diff.swap(diff.to_bits(), Ordering::Relaxed));
                if diff < d.trigger || diff < last {
                    // Close enough, or getting closer: leave it.
                    continue;
                }
            }
            let val = t.val();
            let step = (val as f32 * d.degree).ceil() as usize;
            // A step past a bound is not taken (memkind's rule). Where memkind's `size_t`
            // subtraction would wrap (a degree above 1) and make the threshold huge, we keep
            // the threshold too.
            let new = if prev == 0 || ratio > t.expected {
                val.checked_add(step).filter(|&v| v <= t.max)
            } else {
                val.checked_sub(step).filter(|&v| v >= t.min)
            };
            if let Some(new) = new {
                t.val.store(new, Ordering::Relaxed);
            }
        }
        d.updating.store(false, Ordering::Release);
    }

    /// Allocates `size` bytes from the tier the policy picks.
    pub fn malloc(&self, size: usize) -> Result<NonNull<u8>> {
        let r = kind_malloc(self.pick(size), size);
        self.after_op();
        r
    }

    /// Allocates `num × size` zeroed bytes from the tier the policy picks (for `size`).
    pub fn calloc(&self, num: usize, size: usize) -> Result<NonNull<u8>> {
        let r = kind_calloc(self.pick(size), num, size);
        self.after_op();
        r
    }

    /// Allocates `size` bytes aligned to `align` from the tier the policy picks.
    pub fn aligned(&self, align: usize, size: usize) -> Result<NonNull<u8>> {
        let r = kind_aligned(self.pick(size), align, size);
        self.after_op();
        r
    }

    /// Resizes a block within its own kind (memkind: a block never changes tier on realloc).
    ///
    /// # Safety
    /// `ptr` must be a live block of one of our kinds.
    pub unsafe fn realloc(&self, ptr: NonNull<u8>, size: usize) -> Result<NonNull<u8>> {
        let kind = Kind::detect(ptr.as_ptr()).ok_or(Error::Invalid)?;
        // SAFETY: forwarded from the caller; the directory says it is `kind`'s.
        let r = unsafe { kind_realloc(kind, ptr, size) };
        self.after_op();
        r
    }
}

/// The usable size of a fresh block of `size` bytes at natural alignment, without asking
/// jemalloc where the size class says it (small sizes: the thread caches' classes are
/// jemalloc's).
#[inline(always)]
pub fn fresh_usable(kind: Kind, p: NonNull<u8>, size: usize) -> usize {
    if size <= morselkind::MAX_TABLED {
        morselkind::size_class(size)
    } else {
        // SAFETY: `p` is a live block of `kind`, just allocated.
        unsafe { kind.usable_size(p) }
    }
}

/// `kind.malloc`, counted in the kind's tier statistics (memkind's `memtier_kind_malloc`).
#[inline]
pub fn kind_malloc(kind: Kind, size: usize) -> Result<NonNull<u8>> {
    let p = kind.malloc(size)?;
    counters::on_alloc(kind, fresh_usable(kind, p, size));
    Ok(p)
}

/// `kind.calloc`, counted.
#[inline]
pub fn kind_calloc(kind: Kind, num: usize, size: usize) -> Result<NonNull<u8>> {
    let p = kind.calloc(num, size)?;
    counters::on_alloc(kind, fresh_usable(kind, p, num * size));
    Ok(p)
}

/// `kind.aligned`, counted.
pub fn kind_aligned(kind: Kind, align: usize, size: usize) -> Result<NonNull<u8>> {
    let p = kind.aligned(align, size)?;
    // SAFETY: a live block of `kind`, just allocated.
    counters::on_alloc(kind, unsafe { kind.usable_size(p) });
    Ok(p)
}

/// `kind.realloc`, counted: the old block's bytes leave the count, the new block's enter it.
/// On failure the old block and its count stay as they were.
///
/// # Safety
/// `ptr` must be a live block of `kind`.
pub unsafe fn kind_realloc(kind: Kind, ptr: NonNull<u8>, size: usize) -> Result<NonNull<u8>> {
    // SAFETY: the caller passes a live block of `kind`.
    let old = unsafe { kind.usable_size(ptr) };
    // SAFETY: as above; jemalloc keeps the old block on failure.
    let p = unsafe { kind.realloc(ptr, size) }?;
    // SAFETY: a live block of `kind`.
    let new = unsafe { kind.usable_size(p) };
    counters::on_free(kind, old);
    counters::on_alloc(kind, new);
    Ok(p)
}

/// `kind.free`, counted.
///
/// # Safety
/// `ptr` must be a live block of `kind`.
#[inline]
pub unsafe fn kind_free(kind: Kind, ptr: NonNull<u8>) {
    // SAFETY: the caller passes a live block of `kind`.
    let usable = unsafe { kind.usable_size(ptr) };
    counters::on_free(kind, usable);
    // SAFETY: as above, with its usable size.
    unsafe { kind.free_usable(ptr, usable) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::DEFAULT_DEGREE;
    use crate::{Builder, Ctl, CtlValue, Policy as SpecPolicy};
    use morselkind::PmemConfig;

    fn free_all(ps: Vec<NonNull<u8>>) {
        for p in ps {
            let k = Kind::detect(p.as_ptr()).unwrap();
            // SAFETY: live blocks of ours.
            unsafe { kind_free(k, p) };
        }
    }

    /// STATIC_RATIO keeps the byte ratio within ±5% over a long run of mixed sizes, with frees.
    fn static_ratio_holds(r0: u32, r1: u32) {
        let [pmem] = pmem_kinds();
        let mut b = Builder::new(SpecPolicy::StaticRatio);
        b.add_tier(Kind::REGULAR, r0).unwrap();
        b.add_tier(pmem, r1).unwrap();
        let m = b.construct().unwrap();
        let base0 = counters::allocated_size(Kind::REGULAR);
        let mut live = Vec::new();
        let mut seed = 0x2545F4914F6CDD1Du64;
        for i in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let size = match seed % 100 {
                0..=79 => 16 + (seed >> 8) as usize % 512,
                80..=98 => 512 + (seed >> 8) as usize % 16384,
                _ => 65536 + (seed >> 8) as usize % (1 << 20),
            };
            live.push(m.malloc(size).unwrap());
            // Free a random earlier block now and then: the ratio is on live bytes.
            if i % 3 == 0 {
                let j = (seed >> 20) as usize % live.len();
                let p = live.swap_remove(j);
                // SAFETY: a live block of ours.
                unsafe { kind_free(Kind::detect(p.as_ptr()).unwrap(), p) };
            }
        }
        let b0 = (counters::allocated_size(Kind::REGULAR) - base0) as f64;
        let b1 = counters::allocated_size(pmem) as f64;
        let (want, got) = (r1 as f64 / r0 as f64, b1 / b0);
        assert!((got / want - 1.0).abs() < 0.05, "{r0}:{r1}: got {got:.3}, want {want:.3}");
        free_all(live);
        // SAFETY: every block of it is freed.
        unsafe { pmem.destroy().unwrap() };
    }

    /// `N` fresh PMEM kinds in the temporary directory.
    fn pmem_kinds<const N: usize>() -> [Kind; N] {
        let dir = std::env::temp_dir();
        std::array::from_fn(|_| Kind::pmem(&PmemConfig::new(&dir)).unwrap())
    }

    #[test]
    fn static_ratio_1_1_and_1_4() {
        static_ratio_holds(1, 1);
        static_ratio_holds(1, 4);
        static_ratio_holds(3, 1);
    }

    /// DYNAMIC_THRESHOLD moves its threshold toward the target ratio, and never out of
    /// [min, max].
    #[test]
    fn dynamic_threshold_moves_toward_target() {
        let [fast, slow] = pmem_kinds();
        let mut b = Builder::new(SpecPolicy::DynamicThreshold);
        b.add_tier(fast, 1).unwrap();
        b.add_tier(slow, 1).unwrap();
        let set = |b: &mut Builder, n: &str, v: usize| {
            b.ctl_set(Ctl::parse(n).unwrap(), CtlValue::Size(v)).unwrap()
        };
        set(&mut b, "policy.dynamic_threshold.thresholds[0].min", 64);
        set(&mut b, "policy.dynamic_threshold.thresholds[0].val", 128);
        set(&mut b, "policy.dynamic_threshold.thresholds[0].max", 4096);
        let m = b.construct().unwrap();
        // Sizes uniform in 1..2048: with the threshold at 128, the slow tier gets far more than
        // the fast one; a 1:1 ratio wants it near the middle of the sizes' byte mass (~1450).
        let mut live = Vec::new();
        let mut seen = (usize::MAX, 0);
        let mut seed = 88172645463325252u64;
        for _ in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            live.push(m.malloc(1 + (seed >> 11) as usize % 2048).unwrap());
            let v = m.thresholds()[0].val();
            seen = (seen.0.min(v), seen.1.max(v));
        }
        let v = m.thresholds()[0].val();
        assert!(seen.0 >= 64 && seen.1 <= 4096, "threshold left [64, 4096]: {seen:?}");
        assert!(v > 700, "threshold did not move up toward the target: {v}");
        let f = counters::allocated_size(fast) as f64;
        let s = counters::allocated_size(slow) as f64;
        eprintln!("dynamic 1:1: threshold {v} (ranged over {seen:?}), slow/fast bytes {:.3}", s / f);
        assert!((s / f - 1.0).abs() < 0.25, "ratio slow/fast {:.3} far from 1", s / f);
        free_all(live);

        // A target the bounds cannot reach: the threshold climbs while a step fits below max,
        // then stays (memkind does not clamp): 200, 230, 260, 290.
        let mut b = Builder::new(SpecPolicy::DynamicThreshold);
        b.add_tier(fast, 1).unwrap();
        b.add_tier(slow, 1).unwrap();
        set(&mut b, "policy.dynamic_threshold.thresholds[0].min", 100);
        set(&mut b, "policy.dynamic_threshold.thresholds[0].val", 200);
        set(&mut b, "policy.dynamic_threshold.thresholds[0].max", 300);
        let m = b.construct().unwrap();
        let mut live = Vec::new();
        for i in 0..20_000 {
            live.push(m.malloc(1000 + i % 1000).unwrap());
            let v = m.thresholds()[0].val();
            assert!((100..=300).contains(&v), "threshold {v} out of [100, 300]");
        }
        assert_eq!(m.thresholds()[0].val(), 290);
        free_all(live);

        // And down to min when the fast tier holds too much.
        let mut b = Builder::new(SpecPolicy::DynamicThreshold);
        b.add_tier(fast, 1).unwrap();
        b.add_tier(slow, 8).unwrap();
        set(&mut b, "policy.dynamic_threshold.thresholds[0].min", 100);
        set(&mut b, "policy.dynamic_threshold.thresholds[0].val", 4000);
        set(&mut b, "policy.dynamic_threshold.thresholds[0].max", 5000);
        let m = b.construct().unwrap();
        let mut live = Vec::new();
        for i in 0..20_000 {
            live.push(m.malloc(50 + i % 50).unwrap());
        }
        // Down while a step stays at or above min, then it stays.
        let v = m.thresholds()[0].val();
        assert!(v >= 100 && v - ((v as f32 * DEFAULT_DEGREE).ceil() as usize) < 100, "threshold {v}");
        free_all(live);
        // SAFETY: every block of theirs is freed.
        unsafe {
            fast.destroy().unwrap();
            slow.destroy().unwrap();
        }
    }

    /// The batched STATIC_RATIO choice: the tier furthest behind its share, tier 0 on a tie,
    /// never a tier of ratio 0; grants 1/256 of the tier's live bytes within the bounds; the
    /// caller's pending bytes count.
    #[test]
    fn grants_go_to_the_tier_furthest_behind() {
        let [a, b, c] = pmem_kinds();
        let mut bld = Builder::new(SpecPolicy::StaticRatio);
        bld.add_tier(a, 1).unwrap();
        bld.add_tier(b, 4).unwrap();
        bld.add_tier(c, 0).unwrap();
        let m = bld.construct().unwrap();
        assert_eq!(m.grant(100, &[]), (1, GRANT_MIN), "nothing live: a grant puts tier 1 least ahead");
        counters::add_batch(a, 100_000, 0, 0);
        assert_eq!(m.grant(100, &[]), (1, GRANT_MIN));
        // 104 096 per part in tier 0 after a grant, 251 024 in tier 1 with the pending bytes.
        assert_eq!(m.grant(100, &[0, 1_000_000, 0]), (0, GRANT_MIN));
        counters::add_batch(a, 100 << 20, 0, 0);
        counters::add_batch(b, 400 << 20, 0, 0);
        // Exactly on target: tier 1, where a grant (the largest: 1/256 is past it) weighs a
        // quarter; tier 0 when tier 1 is a grant ahead.
        assert_eq!(m.grant(100, &[-100_000, 0, 0]), (1, GRANT_MAX));
        assert_eq!(m.grant(100, &[-100_000, 4 * GRANT_MAX as i64, 0]), (0, GRANT_MAX));
        assert_eq!(m.grant(100, &[0, -(1 << 20), 0]), (1, GRANT_MAX));
        counters::add_batch(a, -(100 << 20) - 100_000, 0, 0);
        counters::add_batch(b, -(400 << 20), 0, 0);
        // SAFETY: nothing was allocated from them.
        unsafe {
            a.destroy().unwrap();
            b.destroy().unwrap();
            c.destroy().unwrap();
        }
    }

    /// after_ops(n) counts n calls toward DYNAMIC_THRESHOLD's check at once: the check runs when
    /// the countdown reaches zero on the way (here the fast tier holds nothing, so a check
    /// moves the threshold up).
    #[test]
    fn after_ops_checks_once_per_check_cnt() {
        let [fast, slow] = pmem_kinds();
        let mut b = Builder::new(SpecPolicy::DynamicThreshold);
        b.add_tier(fast, 1).unwrap();
        b.add_tier(slow, 1).unwrap();
        b.ctl_set(Ctl::parse("policy.dynamic_threshold.check_cnt").unwrap(), CtlValue::Unsigned(10)).unwrap();
        let m = b.construct().unwrap();
        assert_eq!(m.check_cnt(), Some(10));
        let v0 = m.thresholds()[0].val();
        m.after_ops(9);
        assert_eq!(m.thresholds()[0].val(), v0, "9 of 10 calls: no check yet");
        m.after_ops(1);
        let v1 = m.thresholds()[0].val();
        assert!(v1 > v0, "the 10th call checks: {v0} -> {v1}");
        m.after_ops(25);
        assert!(m.thresholds()[0].val() > v1, "a batch past the countdown checks once");
        let mut s = Builder::new(SpecPolicy::StaticRatio);
        s.add_tier(fast, 1).unwrap();
        assert_eq!(s.construct().unwrap().check_cnt(), None);
        // SAFETY: nothing was allocated from them.
        unsafe {
            fast.destroy().unwrap();
            slow.destroy().unwrap();
        }
    }
}
