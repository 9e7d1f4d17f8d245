//! fork(): the child gets its own copy of every file kind, and no lock of ours stays held.
//!
//! # File kinds (memkind's issue #224), and fork+exec at no cost
//! A PMEM kind's memory is a `MAP_SHARED` mapping of an unlinked file, so after fork the child's
//! heap and its parent's would be the same pages: a block the child frees and reuses is one the
//! parent still holds. Copying the file in the fork handler, with the parent waiting, cost
//! about 0.3-0.9 s per GiB on every fork, and most forks (shells, `subprocess`) exec at once
//! and never look at the copy. So the copy is deferred:
//! 1. In the child's fork handler, each file kind's morsels are mapped *privately* from the
//!    same file at the same addresses (one `mmap` per morsel, nothing copied,
//!    `Provider::after_fork_child`). From then on nothing the child writes reaches the parent,
//!    and no write of the child can fault: a private write takes an anonymous page.
//! 2. The child makes its copy (`Provider::settle_fork_copy`: a new file in the kind's
//!    directory, or a memfd where it has no room, with every block the kind holds reserved,
//!    the file's data copied and the child's own writes laid over it) at its first call that
//!    could touch a kind's file or ask for memory: every extent hook, every heap call's slow
//!    path, kind creation and destruction, and a fork of its own (`settle_if_pending`, one
//!    relaxed load). Until then its private mappings read the parent's file.
//! 3. The parent waits in its fork handler (a pipe whose write end only the child holds,
//!    close-on-exec) until the child has made its copies, exec'd or exited, whichever comes
//!    first. A child that execs releases it at once: fork+exec costs the parent no copy at all
//!    (under a millisecond here, however large the kinds). While the parent waits, the file
//!    does not change under the child's private mappings (as before, only the forking thread
//!    waits: other threads of a multi-threaded parent run on, as they would under any fork).
//! 4. File kinds holding less than `COPY_AT_ONCE_MAX` in all are copied in the child's fork
//!    handler at once, as before (a few milliseconds): small heaps (a shell under the tiering
//!    interposer) keep fork's exact semantics whatever the child does.
//!
//! What this gives up, for larger kinds only: the parent waits at most about what the copy
//! would have cost (`WAIT_MIN_MS`, plus `WAIT_MS_PER_GIB` per GiB held, up to `WAIT_MAX_MS`).
//! A child that neither execs, exits nor calls into morselkind by then releases its parent
//! anyway, and until its first such call it reads the parent's later writes in the pages it
//! has not written itself (its own writes stay its own, and nothing it does reaches the
//! parent). Waiting without a bound would deadlock a parent whose child waits for it (a worker
//! that blocks on a pipe before it allocates). Copying in the background in the child cannot
//! close the gap either: switching the child's mappings from the old file to its copy while
//! another of its threads writes them would lose writes, and only the fork handler runs
//! before the child has threads.
//!
//! A child that cannot make its copy at all (no room in the directory and no memory for a
//! memfd) says so on stderr and keeps the private mappings: its kind gives it no more memory
//! (ENOMEM) and gives nothing back to a file it no longer owns. Anonymous kinds need nothing:
//! their memory is private and copy-on-write. vfork and posix_spawn run no handlers and need
//! none: the child execs.
//!
//! jemalloc's metadata for our arenas is in DRAM (`metadata_use_hooks` off), so jemalloc's own
//! child handler, which runs before ours, writes nothing into the file pages.
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
//!
//! # Imports
//! fork → kind and fork → cache close the crate's one circle (kind ↔ cache ↔ fork): the
//! handlers take the kind registry's locks and the thread registry in the order above, and
//! walk the live kinds; kind → fork installs the handlers and settles a child's copies. The
//! providers' hooks settle too, but without importing this module: `install` hands them
//! `settle` (`provider::set_fork_settle`), and the flag they read is theirs
//! (`provider::FORK_PENDING`).

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Once;

use morsel::lock::Lock;
use morsel::{sys, Backing};

use crate::cache;
use crate::directory;
use crate::kind::{self, live_kinds};
use crate::provider::{self, FORK_PENDING as PENDING};

static INSTALL: Once = Once::new();
static PIPE_READ: AtomicI32 = AtomicI32::new(-1);
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// Serialises the child's copies.
static SETTLE: Lock<()> = Lock::new(());

/// File kinds holding less than this in all are copied in the child's fork handler, at once
/// (a few milliseconds): small heaps keep the exact fork semantics whatever the child does.
const COPY_AT_ONCE_MAX: usize = 32 << 20;
/// The least a parent waits for its child to exec, exit or make its copies; more for larger
/// file kinds (`WAIT_MS_PER_GIB`), about what the copy itself would take, up to `WAIT_MAX_MS`.
const WAIT_MIN_MS: u64 = 250;
const WAIT_MS_PER_GIB: u64 = 1000;
const WAIT_MAX_MS: u64 = 10_000;
/// Bytes committed in file kinds when the fork began (set in `prepare`).
static FILE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Registers the fork handlers (once; later calls do nothing). Kinds call it when they are
/// set up; a program may call it earlier.
pub fn install() {
    INSTALL.call_once(|| {
        provider::set_fork_settle(settle);
        // SAFETY: plain functions without arguments; registering may allocate (glibc's own).
        let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        if rc != 0 {
            sys::write_stderr(&[b"morselkind: pthread_atfork failed: file kinds are not fork-safe\n"]);
        }
    });
}

/// In a forked child whose file kinds wait for their copies: makes them now (see the module
/// comment). One relaxed load otherwise. (The flag is the providers', whose hooks settle too.)
#[inline]
pub(crate) fn settle_if_pending() {
    provider::settle_fork_if_pending();
}

#[cold]
#[inline(never)]
fn settle() {
    let _g = SETTLE.lock();
    if !PENDING.load(Ordering::Acquire) {
        return;
    }
    for k in live_kinds() {
        k.mark_inherited();
        if let Some(p) = k.provider() {
            // SAFETY: in the child, under SETTLE; hooks settle before they touch anything.
            unsafe { p.settle_fork_copy() };
        }
    }
    PENDING.store(false, Ordering::Release);
    let w = PIPE_WRITE.swap(-1, Ordering::Relaxed);
    if w >= 0 {
        // SAFETY: our own descriptor; closing it releases the parent.
        unsafe { libc::close(w) };
    }
}

/// Whether there are file kinds, and the bytes they hold committed.
fn file_kinds() -> Option<usize> {
    let mut bytes = None;
    for k in live_kinds()
        .filter(|k| k.source().is_some_and(|s| matches!(s.backing(), Backing::File | Backing::Memfd)))
    {
        *bytes.get_or_insert(0) += k.provider().map_or(0, |p| p.committed());
    }
    bytes
}

extern "C" fn prepare() {
    // A child that forks before it made its copies makes them first: its own child must
    // inherit a kind that owns its file.
    settle_if_pending();
    kind::fork_lock();
    cache::fork_lock();
    if let Some(bytes) = file_kinds() {
        FILE_BYTES.store(bytes, Ordering::Relaxed);
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
        // SAFETY: our own descriptors. The read end reports EOF once the child has closed its
        // write end (copies made, exec or exit); a failed fork made no child: EOF at once.
        unsafe {
            libc::close(w);
            let gib = FILE_BYTES.load(Ordering::Relaxed) as u64 >> 30;
            let wait = (WAIT_MIN_MS + gib * WAIT_MS_PER_GIB).min(WAIT_MAX_MS);
            let deadline = sys::coarse_ms() + wait;
            loop {
                let left = deadline.saturating_sub(sys::coarse_ms()) as i32;
                let mut pfd = libc::pollfd { fd: r, events: libc::POLLIN, revents: 0 };
                let n = libc::poll(&mut pfd, 1, left);
                if n >= 0 || *libc::__errno_location() != libc::EINTR || left == 0 {
                    break;
                }
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
        if SETTLE.raw().is_held() {
            // A thread of a parent that was itself settling does not exist here.
            SETTLE.raw().release();
        }
    }
    let mut pending = false;
    for k in live_kinds() {
        if let Some(p) = k.provider() {
            // SAFETY: as above; the kind is live and the registry ours.
            pending |= unsafe { p.after_fork_child() };
        }
    }
    // SAFETY: the child's only thread; the locks were taken in `prepare`.
    unsafe {
        cache::after_fork_child();
        kind::fork_unlock();
    }
    let r = PIPE_READ.swap(-1, Ordering::Relaxed);
    if r >= 0 {
        // SAFETY: the child's copy of the parent's end.
        unsafe { libc::close(r) };
    }
    if pending && FILE_BYTES.load(Ordering::Relaxed) < COPY_AT_ONCE_MAX {
        // Little to copy: copy now, while the parent waits, and keep fork's exact semantics.
        PENDING.store(true, Ordering::Release);
        settle();
    } else if pending {
        // The write end stays open (close-on-exec) until the copies are made.
        PENDING.store(true, Ordering::Release);
    } else {
        let w = PIPE_WRITE.swap(-1, Ordering::Relaxed);
        if w >= 0 {
            // SAFETY: the child's write end; closing it releases the parent.
            unsafe { libc::close(w) };
        }
    }
}
