//! The busy-window handshake between a thread's cache and a thread destroying a kind (see
//! `cache`'s module comment for why it exists).
//!
//! ```text
//! cache thread:  busy := K;  fence(SeqCst);  if gen(K) != cached { busy := none; stay out }
//!                ... jemalloc on K's arenas ...;  busy := none (Release)
//! destroyer:     gen(K) += 1;  fence(SeqCst);  for every thread: wait while busy == K (Acquire)
//!                ... destroy K's arenas ...
//! ```
//!
//! Each side writes its own variable, then a SeqCst fence, then reads the other's: the two
//! fences are ordered one way or the other, so at least one side sees the other's write
//! (Dekker). Either the thread sees the new generation and stays out of jemalloc, or the
//! destroyer sees the thread busy and waits; the Release/Acquire pair on `busy` then orders the
//! thread's jemalloc calls before the destruction. Fences, not SeqCst accesses, so that loom
//! (which models SeqCst accesses as acquire/release, but SeqCst fences as they are) checks the
//! very code that runs: the loom test below drives these functions with loom's atomics.
//!
//! The functions are generic over the atomic type so that the same code runs on std's atomics
//! in the library and on loom's in the test; monomorphised, they cost what the plain code does.

use std::sync::atomic::Ordering;

/// No kind: the thread is outside any busy window.
pub(crate) const NOT_BUSY: u32 = u32::MAX;

/// The atomics the handshake needs: a `u32` cell, a SeqCst fence, and a way to wait.
pub(crate) trait Sync32 {
    fn load(&self, order: Ordering) -> u32;
    fn store(&self, v: u32, order: Ordering);
    fn fetch_add(&self, v: u32, order: Ordering) -> u32;
    fn fence_seqcst();
    fn spin();
}

impl Sync32 for std::sync::atomic::AtomicU32 {
    #[inline(always)]
    fn load(&self, order: Ordering) -> u32 {
        std::sync::atomic::AtomicU32::load(self, order)
    }
    #[inline(always)]
    fn store(&self, v: u32, order: Ordering) {
        std::sync::atomic::AtomicU32::store(self, v, order)
    }
    #[inline(always)]
    fn fetch_add(&self, v: u32, order: Ordering) -> u32 {
        std::sync::atomic::AtomicU32::fetch_add(self, v, order)
    }
    #[inline(always)]
    fn fence_seqcst() {
        std::sync::atomic::fence(Ordering::SeqCst)
    }
    #[inline(always)]
    fn spin() {
        std::hint::spin_loop()
    }
}

/// The cache thread opens its window for kind `kind`, whose generation it cached as `cached`;
/// false (the window closed again) if the kind was destroyed or re-created since.
#[inline]
pub(crate) fn enter<A: Sync32>(busy: &A, kind: u32, generation: &A, cached: u32) -> bool {
    busy.store(kind, Ordering::Relaxed);
    A::fence_seqcst();
    if generation.load(Ordering::Relaxed) == cached {
        return true;
    }
    busy.store(NOT_BUSY, Ordering::Release);
    false
}

/// The cache thread closes its window.
#[inline]
pub(crate) fn leave<A: Sync32>(busy: &A) {
    busy.store(NOT_BUSY, Ordering::Release);
}

/// The destroyer (or creator) of a kind moves its generation on: cached state is stale from
/// here, and threads that have not yet entered a window for it will stay out.
pub(crate) fn retire<A: Sync32>(generation: &A) {
    generation.fetch_add(1, Ordering::Relaxed);
    A::fence_seqcst();
}

/// The destroyer, after [`retire`], waits until one thread is out of its window for `kind`.
pub(crate) fn wait_out<A: Sync32>(busy: &A, kind: u32) {
    while busy.load(Ordering::Acquire) == kind {
        A::spin();
    }
}

/// The handshake under loom: every interleaving of one cache thread (fill or flush inside the
/// window) against one destroyer. The "arena" is a loom `UnsafeCell`: touched by the cache
/// thread inside its window, destroyed by the destroyer after waiting; loom fails the test on
/// any interleaving where the two accesses are not ordered.
/// `RUSTFLAGS="--cfg loom" cargo test -p morselkind --lib busy` (tests/run-all.sh runs it).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::AtomicU32;
    use loom::sync::Arc;

    impl Sync32 for AtomicU32 {
        fn load(&self, order: Ordering) -> u32 {
            AtomicU32::load(self, order)
        }
        fn store(&self, v: u32, order: Ordering) {
            AtomicU32::store(self, v, order)
        }
        fn fetch_add(&self, v: u32, order: Ordering) -> u32 {
            AtomicU32::fetch_add(self, v, order)
        }
        fn fence_seqcst() {
            loom::sync::atomic::fence(Ordering::SeqCst)
        }
        fn spin() {
            loom::thread::yield_now()
        }
    }

    struct Shared {
        busy: AtomicU32,
        generation: AtomicU32,
        /// The kind's arena: its "uses" count, or u32::MAX once destroyed.
        arena: UnsafeCell<u32>,
    }

    #[test]
    fn destroyer_never_races_a_window() {
        loom::model(|| {
            let s = Arc::new(Shared {
                busy: AtomicU32::new(NOT_BUSY),
                generation: AtomicU32::new(1),
                arena: UnsafeCell::new(0),
            });
            let t = s.clone();
            let cache = loom::thread::spawn(move || {
                // Two slow paths in a row, as a fill then a flush.
                for _ in 0..2 {
                    if enter(&t.busy, 7, &t.generation, 1) {
                        t.arena.with_mut(|a| {
                            // SAFETY: loom checks that nothing else touches the cell now.
                            let a = unsafe { &mut *a };
                            assert_ne!(*a, u32::MAX, "an arena used after it was destroyed");
                            *a += 1;
                        });
                        leave(&t.busy);
                    }
                }
            });
            retire(&s.generation);
            wait_out(&s.busy, 7);
            // SAFETY: loom checks the access is ordered after the cache thread's.
            s.arena.with_mut(|a| unsafe { *a = u32::MAX });
            cache.join().unwrap();
        });
    }
}
