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

/// The handshake on std's atomics and threads over a mock arena of plain data, for Miri
/// (`tests/miri.sh`): no jemalloc, no mmap, so Miri can run it, and its data-race detector and
/// weak-memory emulation check that the cache threads' touches of the arena are ordered before
/// the destroyer's. Natively it is an ordinary (weaker) stress test of the same code.
#[cfg(all(test, not(loom)))]
#[allow(unsafe_code)] // the mock arena is an UnsafeCell shared across threads on purpose
mod mock_tests {
    use super::*;
    use std::cell::UnsafeCell;
    use std::sync::atomic::AtomicU32;

    /// Rounds per test: each is a fresh kind, cache threads and destroyer. Miri interprets, so
    /// it gets few rounds (run it with several seeds for more schedules).
    const ROUNDS: usize = if cfg!(miri) { 8 } else { 2000 };
    const KIND: u32 = 7;
    const DESTROYED: u32 = u32::MAX;

    /// One kind: its generation, each cache thread's busy word, and its "arena", plain data
    /// that only the handshake keeps the threads from racing on.
    struct Mock {
        generation: AtomicU32,
        busy: Vec<AtomicU32>,
        arena: UnsafeCell<u32>,
    }

    // SAFETY: `arena` is shared on purpose: the cache threads touch it only inside a window,
    // the destroyer only after `wait_out` on every thread; the handshake is what is under test,
    // and Miri reports any access it fails to order as a data race.
    unsafe impl Sync for Mock {}

    impl Mock {
        fn new(threads: usize) -> Mock {
            Mock {
                generation: AtomicU32::new(1),
                busy: (0..threads).map(|_| AtomicU32::new(NOT_BUSY)).collect(),
                arena: UnsafeCell::new(0),
            }
        }

        /// A cache thread's slow paths (a fill, then a flush...), each in a window of its own.
        fn cache_thread(&self, me: usize, windows: usize) -> usize {
            let mut inside = 0;
            for _ in 0..windows {
                if enter(&self.busy[me], KIND, &self.generation, 1) {
                    // SAFETY: inside the window: the destroyer waits for us before it writes.
                    // Another cache thread may be inside too, so only read here.
                    let a = unsafe { *self.arena.get() };
                    assert_ne!(a, DESTROYED, "thread {me}: an arena used after it was destroyed");
                    inside += 1;
                    leave(&self.busy[me]);
                }
            }
            inside
        }

        /// The destroyer: retire the generation, wait every thread out, destroy the arena.
        fn destroy(&self) {
            retire(&self.generation);
            for b in &self.busy {
                wait_out(b, KIND);
            }
            // SAFETY: every thread is out of its window and none can enter again (the
            // generation moved on): nothing else touches the arena from here.
            unsafe { *self.arena.get() = DESTROYED };
        }
    }

    fn run(threads: usize, windows: usize) {
        for _ in 0..ROUNDS {
            let m = Mock::new(threads);
            let inside: usize = std::thread::scope(|s| {
                let m = &m;
                let cache: Vec<_> =
                    (0..threads).map(|me| s.spawn(move || m.cache_thread(me, windows))).collect();
                m.destroy();
                cache.into_iter().map(|h| h.join().unwrap()).sum()
            });
            assert!(inside <= threads * windows);
            // After the destroy, a thread that cached the old generation stays out.
            assert!(!enter(&m.busy[0], KIND, &m.generation, 1), "a stale generation got in");
            assert_eq!(m.busy[0].load(Ordering::Relaxed), NOT_BUSY, "a refused enter left the window open");
        }
    }

    /// One cache thread (a fill then a flush) against one destroyer: the loom test's case.
    #[test]
    fn destroyer_never_races_a_window() {
        run(1, 2);
    }

    /// Three cache threads, each with its own busy word, against one destroyer waiting them
    /// out one by one.
    #[test]
    fn destroyer_waits_out_every_thread() {
        run(3, 3);
    }

    /// Enter and leave with nobody destroying: the window opens on the cached generation,
    /// closes again, and a stale one is refused without leaving the thread busy.
    #[test]
    fn window_opens_only_on_the_cached_generation() {
        let m = Mock::new(1);
        assert!(enter(&m.busy[0], KIND, &m.generation, 1));
        assert_eq!(m.busy[0].load(Ordering::Relaxed), KIND);
        leave(&m.busy[0]);
        assert_eq!(m.busy[0].load(Ordering::Relaxed), NOT_BUSY);
        assert!(!enter(&m.busy[0], KIND, &m.generation, 0));
        assert_eq!(m.busy[0].load(Ordering::Relaxed), NOT_BUSY);
    }
}
