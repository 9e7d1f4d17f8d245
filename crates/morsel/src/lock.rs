//! A small futex lock with explicit `acquire`/`release`, for the locks fork handlers must hold
//! across `fork()` (a `std::sync::MutexGuard` cannot be kept from a `prepare` handler to the
//! `parent` and `child` ones) and reset in the child (a lock held by a thread that does not
//! exist there would stay held forever).
//!
//! Three states, as in glibc's and std's futex mutexes: 0 free, 1 held, 2 held with waiters.
//! A short spin before sleeping; no poisoning (a panic unwinding through a guard releases it).

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};

const FREE: u32 = 0;
const HELD: u32 = 1;
const CONTENDED: u32 = 2;
const SPINS: u32 = 100;

/// The lock word alone.
pub struct RawLock(AtomicU32);

impl RawLock {
    /// A free lock.
    pub const fn new() -> RawLock {
        RawLock(AtomicU32::new(FREE))
    }

    /// Takes the lock, waiting as long as it takes. Nothing releases it but [`RawLock::release`].
    #[inline]
    pub fn acquire(&self) {
        if self.0.compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.acquire_contended();
        }
    }

    #[cold]
    fn acquire_contended(&self) {
        for _ in 0..SPINS {
            if self.0.load(Ordering::Relaxed) == FREE
                && self.0.compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                return;
            }
            std::hint::spin_loop();
        }
        // From here on the word says "waiters": whoever releases it wakes one of us.
        while self.0.swap(CONTENDED, Ordering::Acquire) != FREE {
            futex_wait(&self.0, CONTENDED);
        }
    }

    /// Takes the lock if it is free.
    pub fn try_acquire(&self) -> bool {
        self.0.compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Whether the lock is held by anybody (a snapshot).
    pub fn is_held(&self) -> bool {
        self.0.load(Ordering::Relaxed) != FREE
    }

    /// Releases the lock.
    ///
    /// # Safety
    /// The caller took it with [`RawLock::acquire`] and no guard owns it; or the caller is the
    /// only thread of a child process just forked, resetting a lock some vanished thread held
    /// (and vouches that what it protects is consistent).
    #[inline]
    pub unsafe fn release(&self) {
        if self.0.swap(FREE, Ordering::Release) == CONTENDED {
            futex_wake(&self.0);
        }
    }
}

impl Default for RawLock {
    fn default() -> RawLock {
        RawLock::new()
    }
}

pub(crate) fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: FUTEX_WAIT only reads the word at a valid, aligned address; a null timeout waits
    // until woken (or a spurious wake-up, which the caller's loop handles).
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// Wakes every waiter on `word`.
pub(crate) fn futex_wake_all(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE touches no memory.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, i32::MAX);
    }
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE touches no memory; it wakes at most one waiter on the word.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, 1);
    }
}

/// A value behind a [`RawLock`].
pub struct Lock<T> {
    raw: RawLock,
    data: UnsafeCell<T>,
}

// SAFETY: the data is reached only through a guard, while the lock is held: one thread at a
// time, so sending the value between threads is all that is required of it.
unsafe impl<T: Send> Sync for Lock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Lock<T> {}

impl<T> Lock<T> {
    /// A free lock around `value`.
    pub const fn new(value: T) -> Lock<T> {
        Lock { raw: RawLock::new(), data: UnsafeCell::new(value) }
    }

    /// Takes the lock; the guard releases it.
    #[inline]
    pub fn lock(&self) -> LockGuard<'_, T> {
        self.raw.acquire();
        LockGuard { lock: self }
    }

    /// The lock word, for fork handlers that hold the lock without a guard.
    pub fn raw(&self) -> &RawLock {
        &self.raw
    }
}

impl<T: Default> Default for Lock<T> {
    fn default() -> Lock<T> {
        Lock::new(T::default())
    }
}

/// Holds a [`Lock`] until dropped.
pub struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so nobody else reaches the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and the guard is borrowed mutably.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for LockGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard took the lock and owns it.
        unsafe { self.lock.raw.release() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_and_counts() {
        let lock = std::sync::Arc::new(Lock::new(0u64));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(*lock.lock(), 160_000);
    }

    #[test]
    fn raw_acquire_release() {
        let lock = Lock::new(());
        lock.raw().acquire();
        assert!(lock.raw().is_held());
        assert!(!lock.raw().try_acquire());
        // SAFETY: taken just above, without a guard.
        unsafe { lock.raw().release() };
        assert!(!lock.raw().is_held());
        drop(lock.lock());
        assert!(lock.raw().try_acquire());
    }
}
