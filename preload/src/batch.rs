//! Per-thread batches: with several tiers, no policy work and no atomic on a thread-cache hit.
//!
//! - STATIC_RATIO: a thread takes a *grant* (`Memory::grant`: the tier furthest behind its
//!   share, 1/256 of that tier's live bytes, 4-64 KiB) and allocates its small blocks from that
//!   tier without deciding again until the grant's bytes are used up. Blocks above the thread
//!   caches' sizes are placed one by one, on counters brought up to date first.
//! - DYNAMIC_THRESHOLD: the tier is still the size's (the thresholds, copied into the thread at
//!   each check); the check itself runs once per `check_cnt` calls of the thread
//!   (`Memory::after_ops`).
//! - The live bytes each tier gained and lost are counted in the thread and handed to memtier's
//!   counters in batches (`counters::add_batch`): at every grant or check, when the frees of a
//!   tier run ahead of its allocations by more than [`FREE_FLUSH`], and when the thread exits.
//! - Frees find their tier from the page tag (`morselkind::free_fast_sized`).
//!
//! The memtier C API (libmorselkind's memkind_memtier_*) keeps memkind's per-call decisions;
//! only this interposer batches.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, Ordering};

use memtier::{counters, Tiering};
use morselkind::{Kind, Routed, MAX_TABLED as MAX_CACHED};

/// Tiers a thread batches for; a spec with more is placed call by call.
pub const MAX_LOCAL: usize = 8;

/// Frees of one tier running this far ahead of its allocations are handed on at once.
const FREE_FLUSH: u64 = 4 << 10;

/// A thread hands its counts on at a grant once one tier's live bytes not handed on yet reach
/// 1/64 of that tier's live bytes, and at least at every grant on a heap below 256 KiB (see
/// `place`): what other threads and the reports see of a tier lags by at most about 1.6%.
fn settle_bytes(kind: Kind) -> u64 {
    (counters::approx_live(kind) / 64).max(memtier::GRANT_MIN as u64)
}

/// A thread's state: 0 (new, the zero-filled block), ACTIVE or GONE.
const ACTIVE: u8 = 1;
/// The thread is exiting: its last calls are counted as they happen.
const GONE: u8 = 2;

/// The tier of each route (index: the route), or `u8::MAX`.
static ROUTE_TIER: [AtomicU8; morselkind::MAX_ROUTES + 1] =
    [const { AtomicU8::new(u8::MAX) }; morselkind::MAX_ROUTES + 1];

/// Gives each tier (up to `MAX_ROUTES`) a route, so that frees find their tier by the page tag.
pub fn route_tiers(t: &Tiering) {
    for (i, tier) in t.memory.tiers().iter().enumerate().take(MAX_LOCAL) {
        if let Some(r) = morselkind::add_route(tier.kind) {
            ROUTE_TIER[r.get() as usize].store(i as u8, Ordering::Relaxed);
        }
    }
}

/// A thread's state. All zero is a valid value (NEW, no tiers, no grant): it lives in
/// zero-filled thread-local storage of our own (see [`local`]).
#[derive(Clone, Copy)]
struct Local {
    state: u8,
    /// Tiers, and whether they are placed by thresholds (DYNAMIC_THRESHOLD) or by grants.
    ntiers: u8,
    dynamic: bool,
    /// The tiers' kinds (`None` past `ntiers`).
    kinds: [Option<Kind>; MAX_LOCAL],
    /// Grants: the current tier, its kind, and the bytes left (≤ 0: decide again).
    tier: u8,
    kind: Option<Kind>,
    left: isize,
    /// Thresholds: the calls left before the next check, the batch, and the thresholds.
    ops: u32,
    batch: u32,
    th: [usize; MAX_LOCAL],
    /// Not handed on yet, per tier: allocations, their usable bytes, usable bytes freed.
    allocs: [u64; MAX_LOCAL],
    bytes: [u64; MAX_LOCAL],
    freed: [u64; MAX_LOCAL],
}

thread_local! {
    static EXIT: Exit = const { Exit };
}

/// Hands the thread's counts on when it exits.
struct Exit;

impl Drop for Exit {
    fn drop(&mut self) {
        let l = local();
        // SAFETY: the thread's own state; no other reference to it is live (a destructor).
        unsafe {
            settle(l);
            (*l).state = GONE;
            (*l).left = 0;
            (*l).ops = 0;
        }
    }
}

/// The thread's state. Accessed through the raw pointer, field by field, never by a reference
/// held across a call that could come back here.
///
/// On x86_64 it is a zero-filled `.tbss` block of this library, reached initial-exec (its
/// address is the thread pointer plus a static offset: no call), as `crate::Tls` reaches the
/// thread caches; this library is always loaded with the program. Elsewhere, a `thread_local!`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn local() -> *mut Local {
    let p: usize;
    // SAFETY: %fs:0 holds the thread pointer (the x86_64 TLS ABI) and the GOT entry the static
    // offset of the block from it, filled in by the dynamic linker; nothing is read or written
    // but these two words.
    unsafe {
        std::arch::asm!(
            "movq %fs:0, {p}",
            "addq morseltier_local@gottpoff(%rip), {p}",
            p = out(reg) p,
            options(att_syntax, nostack, pure, readonly),
        );
    }
    p as *mut Local
}

// The block: size and alignment of `Local`, zero-filled (NEW), one per thread.
#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".pushsection .tbss.morseltier_local,\"awT\",@nobits",
    ".p2align {align}",
    ".globl morseltier_local",
    ".hidden morseltier_local",
    ".type morseltier_local,@object",
    ".size morseltier_local,{size}",
    "morseltier_local:",
    ".zero {size}",
    ".popsection",
    size = const std::mem::size_of::<Local>(),
    align = const std::mem::align_of::<Local>().trailing_zeros(),
);

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn local() -> *mut Local {
    thread_local! {
        // SAFETY: all zero is a valid Local (see its comment).
        static LOCAL: std::cell::UnsafeCell<Local> =
            const { std::cell::UnsafeCell::new(unsafe { std::mem::zeroed() }) };
    }
    LOCAL.with(|l| l.get())
}

/// The hot path: a small block from the thread's cache of the tier its batch says, counted in
/// the thread. `None` (nothing done) on a miss, a used-up grant or check countdown, or a thread
/// not set up.
#[inline(always)]
pub fn malloc_fast(size: usize) -> Option<NonNull<u8>> {
    if size.wrapping_sub(1) >= MAX_CACHED {
        return None;
    }
    let l = local();
    // SAFETY: the thread's own state; the references below end before anything is called
    // but the kind's fast path, which never comes back here.
    let l = unsafe { &mut *l };
    let (t, p) = if l.dynamic {
        if l.ops == 0 {
            return None;
        }
        let mut t = 0;
        while t + 1 < l.ntiers as usize && size >= l.th[t % MAX_LOCAL] {
            t += 1;
        }
        let t = t % MAX_LOCAL;
        let p = l.kinds[t]?.malloc_cached_via::<crate::Tls>(size)?;
        l.ops -= 1;
        (t, p)
    } else {
        if l.left <= 0 {
            return None;
        }
        let p = l.kind?.malloc_cached_via::<crate::Tls>(size)?;
        (l.tier as usize % MAX_LOCAL, p)
    };
    let u = morselkind::size_class(size);
    l.left -= u as isize;
    l.allocs[t] += 1;
    l.bytes[t] += u as u64;
    Some(p)
}

/// Counts a routed free in the thread (or at once, on a thread not batching).
#[inline(always)]
pub fn count_free(t: &Tiering, r: Routed) {
    let tier =
        ROUTE_TIER[r.route.get() as usize % (morselkind::MAX_ROUTES + 1)].load(Ordering::Relaxed) as usize;
    let l = local();
    // SAFETY: the thread's own state, touched field by field.
    unsafe {
        if (*l).state == ACTIVE && tier < MAX_LOCAL {
            (*l).freed[tier] += r.usable as u64;
            if (*l).freed[tier] > (*l).bytes[tier] + FREE_FLUSH {
                settle_cold(l);
            }
        } else if let Some(tier) = t.memory.tiers().get(tier) {
            counters::add_batch(tier.kind, -(r.usable as i64), 0, 0);
        }
    }
}

#[cold]
#[inline(never)]
fn settle_cold(l: *mut Local) {
    // SAFETY: forwarded.
    unsafe { settle(l) }
}

/// Hands the thread's counts on to memtier's counters.
///
/// # Safety
/// `l` is the calling thread's state.
unsafe fn settle(l: *mut Local) {
    // SAFETY: per the contract.
    let n = unsafe { (*l).ntiers } as usize;
    for i in 0..n.min(MAX_LOCAL) {
        // SAFETY: per the contract.
        let (allocs, bytes, freed, kind) =
            unsafe { ((*l).allocs[i], (*l).bytes[i], (*l).freed[i], (*l).kinds[i]) };
        let Some(kind) = kind else { continue };
        if allocs == 0 && bytes == 0 && freed == 0 {
            continue;
        }
        // SAFETY: per the contract.
        unsafe {
            (*l).allocs[i] = 0;
            (*l).bytes[i] = 0;
            (*l).freed[i] = 0;
        }
        counters::add_batch(kind, bytes as i64 - freed as i64, allocs, bytes);
    }
}

/// Sets the thread up (once): its tiers, its exit hook. The caller is inside the library
/// (a nested malloc, registering the exit hook, goes to glibc). False where the thread cannot
/// batch (exiting, or too many tiers).
fn ready(t: &Tiering, l: *mut Local) -> bool {
    // SAFETY: the thread's own state, touched field by field.
    unsafe {
        match (*l).state {
            ACTIVE => return true,
            GONE => return false,
            _ => {}
        }
        let tiers = t.memory.tiers();
        if tiers.len() > MAX_LOCAL || EXIT.try_with(|_| ()).is_err() {
            (*l).state = GONE;
            return false;
        }
        for (i, tier) in tiers.iter().enumerate() {
            (*l).kinds[i] = Some(tier.kind);
        }
        (*l).ntiers = tiers.len() as u8;
        if let Some(c) = t.memory.check_cnt() {
            (*l).dynamic = true;
            // memkind's countdown; 0 wraps (a check every 2³² calls).
            (*l).batch = if c == 0 { u32::MAX } else { c };
            load_thresholds(t, l);
            (*l).ops = (*l).batch;
        }
        (*l).state = ACTIVE;
    }
    true
}

/// # Safety
/// `l` is the calling thread's state.
unsafe fn load_thresholds(t: &Tiering, l: *mut Local) {
    for (i, th) in t.memory.thresholds().iter().enumerate().take(MAX_LOCAL) {
        // SAFETY: per the contract.
        unsafe { (*l).th[i] = th.val() };
    }
}

/// The tier for an allocation of `usable` bytes (`size` asked; DYNAMIC_THRESHOLD decides on
/// it) on the slow path: a new grant or a threshold check when due. `None`: the thread does
/// not batch; the caller places the call itself.
pub fn place(t: &Tiering, size: usize, usable: usize) -> Option<usize> {
    let l = local();
    if !ready(t, l) {
        return None;
    }
    // SAFETY: the thread's own state, touched field by field; nothing called here comes back.
    unsafe {
        if (*l).dynamic {
            if (*l).ops == 0 {
                settle(l);
                t.memory.after_ops((*l).batch);
                load_thresholds(t, l);
                (*l).ops = (*l).batch;
            }
            (*l).ops -= 1;
            let n = (*l).ntiers as usize;
            let mut i = 0;
            while i + 1 < n && size >= (*l).th[i] {
                i += 1;
            }
            return Some(i);
        }
        if usable > MAX_CACHED {
            // Large: placed on its own, on up-to-date counters.
            settle(l);
            return Some(t.memory.grant(size, &[]).0);
        }
        if (*l).left <= 0 {
            // The thread's counts are handed on only once one tier's reaches `settle_bytes`:
            // threads adding to the same global counters at every grant pass their cache lines
            // back and forth. The choice counts them all the same (`pending`).
            let mut pending = [0i64; MAX_LOCAL];
            let n = ((*l).ntiers as usize).min(MAX_LOCAL);
            for (i, p) in pending.iter_mut().enumerate().take(n) {
                *p = (*l).bytes[i] as i64 - (*l).freed[i] as i64;
            }
            let tiers = t.memory.tiers();
            if pending.iter().zip(tiers).any(|(p, tier)| p.unsigned_abs() >= settle_bytes(tier.kind)) {
                settle(l);
                pending = [0; MAX_LOCAL];
            }
            let (tier, bytes) = t.memory.grant(size, &pending[..n]);
            (*l).tier = tier as u8;
            (*l).kind = (*l).kinds[tier % MAX_LOCAL];
            (*l).left = bytes as isize;
        }
        Some((*l).tier as usize)
    }
}

/// Counts an allocation made on the slow path in tier `tier` (as [`place`] gave, or another
/// when that one was full).
pub fn count_alloc(t: &Tiering, tier: usize, usable: usize) {
    let l = local();
    // SAFETY: the thread's own state, touched field by field.
    unsafe {
        if (*l).state == ACTIVE && tier < MAX_LOCAL {
            (*l).left -= usable as isize;
            (*l).allocs[tier] += 1;
            (*l).bytes[tier] += usable as u64;
            if usable > MAX_CACHED {
                settle(l);
            }
        } else if let Some(tier) = t.memory.tiers().get(tier) {
            counters::add_batch(tier.kind, usable as i64, 1, usable as u64);
        }
    }
}
