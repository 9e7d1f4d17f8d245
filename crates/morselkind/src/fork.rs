//! fork(): the child gets its own copy of every file kind, and no lock of ours stays held.
//!
//! # File kinds (memkind's issue #224)
//! A PMEM kind's memory is a `MAP_SHARED` mapping of an unlinked file, so after fork the child's
//! heap and its parent's would be the same pages: a block the child frees and reuses is one the
//! parent still holds. In the child's fork handler, each live file kind gets a new unnamed file
//! in the same directory, with the data ranges of the old one (`SEEK_DATA`/`SEEK_HOLE`: only
//! what is in use) copied at the same offsets and mapped over every morsel at the same address,
//! and the kind's descriptor number then refers to the new file (`morsel::ForkCopy`). The
//! parent waits in its own fork handler until the child is done (a pipe: the child closes its
//! end), so the forking thread cannot change the pages being copied. Anonymous kinds need
//! nothing: their memory is private and copy-on-write. vfork and posix_spawn run no handlers
//! and need none: the child execs.
//!
//! A child that cannot make its copy (no space left, typically) says why on stderr and exits
//! with status 127 at once. Falling back to a `MAP_PRIVATE` mapping of the old file instead was
//! rejected: the child would still see the parent's later writes to every page it has not
//! written itself, and its purges and commits would go to the parent's file.
//!
//! jemalloc's metadata for our arenas is in DRAM (`metadata_use_hooks` off), so jemalloc's own
//! child handler, which runs before ours, writes nothing into the shared pages.
//!
//! # Locks (order: REGISTRY → ARENAS → THREADS → a provider's carver → WRITERS)
//! - `prepare` takes the kind registry (`kind::REGISTRY`), the arena-creation lock
//!   (`kind::ARENAS`) and the thread-cache registry (`cache::THREADS`), in that order, the order
//!   every other path nests them in; `parent` and `child` release them. So no kind is being
//!   created or destroyed and no arena made or thread registered at the fork.
//! - Carvers and the directory's WRITERS are *not* held across the fork: jemalloc calls the
//!   alloc hook (which takes the carver, then WRITERS) with an arena's `grow_mtx` held, and
//!   jemalloc's own prepare handler, which runs after ours (it was registered first, by its
//!   constructor), takes every `grow_mtx`: holding a carver there would deadlock against a
//!   thread growing that kind's arena. Instead they are quiescent at the fork: every path that
//!   *changes* a carver, the directory or a source's frames runs under REGISTRY (creation,
//!   destruction) or inside jemalloc's alloc hook under `grow_mtx`, and both are held by the
//!   forking thread when the child is made. What can still hold a carver at that instant only
//!   reads it (a commit's read-ahead advice, the statistics calls), so the child releases
//!   locks left held by vanished threads and finds the state whole. The one exception: when
//!   growing an arena fails (a full or size-limited kind), jemalloc retries the alloc hook once
//!   for the exact size without `grow_mtx` (and always so under `retain:false`); a fork at that
//!   very instant can leave the child a morsel mapped but not recorded (leaked, never used) or a
//!   cursor from before the carve. The region list and the directory change by single stores,
//!   so they are never caught half-updated.
//! - The hooks' bookkeeping (`crate::meta`) comes from our own pages, not from jemalloc: a
//!   hook running under one arena's `grow_mtx` that called into jemalloc could wait for another
//!   arena's `grow_mtx`, which jemalloc's prepare handler may already hold while it waits for
//!   the first (a deadlock once possible here). The bookkeeping lock is not held across the
//!   fork either; the child releases it if a vanished thread held it.
//! - In the child, other threads' caches are unregistered (their blocks forgotten).
//!
//! Handlers are registered once, when the first kind is set up.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;

use morsel::{sys, Backing, ForkError};

use crate::cache;
use crate::directory;
use crate::kind::{self, live_kinds};

static INSTALL: Once = Once::new();
static PIPE_READ: AtomicI32 = AtomicI32::new(-1);
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

/// Registers the fork handlers (once; later calls do nothing). Kinds call it when they are
/// set up; a program may call it earlier.
pub fn install() {
    INSTALL.call_once(|| {
        // SAFETY: plain functions without arguments; registering may allocate (glibc's own).
        let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        if rc != 0 {
            sys::write_stderr(&[b"morselkind: pthread_atfork failed: file kinds are not fork-safe\n"]);
        }
    });
}

fn has_file_kinds() -> bool {
    live_kinds().any(|k| k.source().is_some_and(|s| s.backing() == Backing::File))
}

extern "C" fn prepare() {
    kind::fork_lock();
    cache::fork_lock();
    if has_file_kinds() {
        let mut fds = [-1; 2];
        // SAFETY: pipe2 writes two descriptors into the array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == 0 {
            PIPE_READ.store(fds[0], Ordering::Relaxed);
            PIPE_WRITE.store(fds[1], Ordering::Relaxed);
        }
    }
}

extern "C" fn parent() {
    let (r, w) = (PIPE_READ.swap(-1, Ordering::Relaxed), PIPE_WRITE.swap(-1, Ordering::Relaxed));
    if w >= 0 {
        // SAFETY: our own descriptors. read() returns 0 once the child has closed its write end
        // (done copying, or exited); EINTR retries. A failed fork made no child: 0 at once.
        unsafe {
            libc::close(w);
            let mut b = 0u8;
            while libc::read(r, (&mut b as *mut u8).cast(), 1) < 0 && *libc::__errno_location() == libc::EINTR
            {
            }
            libc::close(r);
        }
    }
    // SAFETY: taken in `prepare` by this thread.
    unsafe {
        cache::fork_unlock();
        kind::fork_unlock();
    }
}

extern "C" fn child() {
    // SAFETY: this is the child's only thread, and jemalloc's child handler has run.
    unsafe {
        crate::meta::reset_after_fork();
        directory::reset_after_fork();
    }
    for k in live_kinds() {
        let Some(p) = k.provider() else { continue };
        // SAFETY: as above; the kind is live and the registry ours.
        if let Err(e) = unsafe { p.after_fork_child() } {
            report(&e, p.source().dir().map_or(&b"?"[..], |d| d.to_bytes()));
            // SAFETY: ends the child at once: it must not run on memory it shares with its
            // parent, nor run exit handlers that would use it.
            unsafe { libc::_exit(127) };
        }
    }
    // SAFETY: the child's only thread; the locks were taken in `prepare`.
    unsafe {
        cache::after_fork_child();
        kind::fork_unlock();
    }
    let (r, w) = (PIPE_READ.swap(-1, Ordering::Relaxed), PIPE_WRITE.swap(-1, Ordering::Relaxed));
    if w >= 0 {
        // SAFETY: the child's copies of our descriptors; closing the write end releases the
        // parent.
        unsafe {
            libc::close(r);
            libc::close(w);
        }
    }
}

/// One line on stderr, without allocating.
fn report(e: &ForkError, dir: &[u8]) {
    let mut buf = [0u8; 20];
    let digits = sys::decimal(e.errno.0.unsigned_abs() as u64, &mut buf);
    let why: &[u8] = match e.errno.0 {
        libc::ENOSPC => b"no space left on the device",
        libc::EDQUOT => b"disk quota exceeded",
        libc::EMFILE | libc::ENFILE => b"too many open files",
        libc::ENOMEM => b"out of memory",
        libc::EACCES | libc::EPERM => b"permission denied",
        _ => b"error",
    };
    sys::write_stderr(&[
        b"morselkind: after fork, the child cannot make its own copy of the file kind in ",
        dir,
        b" (",
        e.what.as_bytes(),
        b": ",
        why,
        b", errno ",
        digits,
        b"); the child exits with status 127 rather than share memory with its parent\n",
    ]);
}
