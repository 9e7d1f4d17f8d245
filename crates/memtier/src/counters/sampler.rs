//! Live bytes per tier sampled over time, for `morselkind run`'s report: the policies balance
//! *live* bytes, so the report judges the ratio on their time-weighted mean (and shows the
//! peak), not on the bytes handed out in all.
//!
//! Off unless [`start`] is called (libmorseltier does when `morselkind run` asks for a report).
//! Then every flush of a counter bucket (see `counters`: when live bytes move to the global
//! counters the policies read) calls `tick`, which reads the clock; at most once a
//! millisecond one thread adds, per sampled kind, the mean of its live bytes at the last sample
//! and now × the time between (the trapezoid rule) to its area, and raises its peak. Nothing
//! allocates.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use morselkind::Kind;

use super::approx_live;

/// Kinds sampled at most (tiers of one memory).
pub const MAX_SAMPLED: usize = 8;
const PERIOD_NS: u64 = 1_000_000;

static ON: AtomicBool = AtomicBool::new(false);
static BUSY: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicU32 = AtomicU32::new(0);
static KINDS: [AtomicU32; MAX_SAMPLED] = [const { AtomicU32::new(0) }; MAX_SAMPLED];
/// Σ live × dt per sampled kind, in byte·milliseconds (f64 bits).
static AREA: [AtomicU64; MAX_SAMPLED] = [const { AtomicU64::new(0) }; MAX_SAMPLED];
static PEAK: [AtomicU64; MAX_SAMPLED] = [const { AtomicU64::new(0) }; MAX_SAMPLED];
/// Live bytes at the last sample.
static PREV: [AtomicU64; MAX_SAMPLED] = [const { AtomicU64::new(0) }; MAX_SAMPLED];
/// Nanoseconds since [`epoch`] at the last sample, and when sampling (re)started.
static LAST: AtomicU64 = AtomicU64::new(0);
static START: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// Starts sampling `kinds` (at most [`MAX_SAMPLED`]; later ones are ignored), from now.
pub fn start(kinds: &[Kind]) {
    let n = kinds.len().min(MAX_SAMPLED);
    for (slot, k) in KINDS.iter().zip(kinds) {
        slot.store(k.index() as u32, Ordering::Relaxed);
    }
    COUNT.store(n as u32, Ordering::Relaxed);
    restart();
    ON.store(true, Ordering::Release);
}

/// Forgets what was sampled and starts again from now (a forked child reports only its own
/// life).
pub fn restart() {
    let n = COUNT.load(Ordering::Relaxed) as usize;
    for i in 0..MAX_SAMPLED {
        let live = match Kind::from_index(KINDS[i].load(Ordering::Relaxed) as usize) {
            Some(k) if i < n => approx_live(k),
            _ => 0,
        };
        AREA[i].store(0, Ordering::Relaxed);
        PEAK[i].store(live, Ordering::Relaxed);
        PREV[i].store(live, Ordering::Relaxed);
    }
    let now = now_ns();
    START.store(now, Ordering::Relaxed);
    LAST.store(now, Ordering::Relaxed);
    BUSY.store(false, Ordering::Release);
}

/// Called by the counters on every flush of a bucket: samples at most once a millisecond.
#[inline]
pub(crate) fn tick() {
    if ON.load(Ordering::Relaxed) {
        sample(false);
    }
}

#[cold]
fn sample(force: bool) {
    let now = now_ns();
    let last = LAST.load(Ordering::Relaxed);
    if (!force && now.saturating_sub(last) < PERIOD_NS) || BUSY.swap(true, Ordering::Acquire) {
        return;
    }
    let last = LAST.load(Ordering::Relaxed);
    let dt_ms = now.saturating_sub(last) as f64 / 1e6;
    let n = COUNT.load(Ordering::Relaxed) as usize;
    for i in 0..n {
        let live = Kind::from_index(KINDS[i].load(Ordering::Relaxed) as usize).map_or(0, approx_live);
        let prev = PREV[i].swap(live, Ordering::Relaxed);
        let area = f64::from_bits(AREA[i].load(Ordering::Relaxed)) + (prev + live) as f64 / 2.0 * dt_ms;
        AREA[i].store(area.to_bits(), Ordering::Relaxed);
        PEAK[i].fetch_max(live, Ordering::Relaxed);
    }
    LAST.store(now, Ordering::Relaxed);
    BUSY.store(false, Ordering::Release);
}

/// What sampling found for one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sampled {
    /// Live bytes × time, in byte·milliseconds.
    pub area: f64,
    /// The most live bytes seen at a sample.
    pub peak: u64,
}

/// Takes a last sample and returns, per kind passed to [`start`] (in its order), the area and
/// peak, with the milliseconds sampled; `None` when sampling was never started.
pub fn finish() -> Option<(Vec<Sampled>, f64)> {
    if !ON.load(Ordering::Acquire) {
        return None;
    }
    sample(true);
    let n = COUNT.load(Ordering::Relaxed) as usize;
    let out = (0..n)
        .map(|i| Sampled {
            area: f64::from_bits(AREA[i].load(Ordering::Relaxed)),
            peak: PEAK[i].load(Ordering::Relaxed),
        })
        .collect();
    let ms = LAST.load(Ordering::Relaxed).saturating_sub(START.load(Ordering::Relaxed)) as f64 / 1e6;
    Some((out, ms))
}
