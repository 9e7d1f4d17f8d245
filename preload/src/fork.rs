//! fork() and file-backed tiers.
//!
//! An FS_DAX tier's memory is a `MAP_SHARED` mapping of an unlinked file, so after fork the
//! child's heap and the parent's would be the same pages (memkind's issue #224): a child
//! writing a freed block, or the parent updating an object, corrupts the other. Shells fork
//! for every pipeline and Python's `os.fork` keeps running Python, so this breaks real
//! programs within seconds.
//!
//! The tiers are morselkind PMEM kinds, and morselkind's own fork handlers take care of them
//! (`morselkind::fork`, registered when the first kind was made): in the child, each file
//! kind's morsels are mapped privately at once (nothing the child writes reaches the parent),
//! and the child makes its own copy of the file (every reserved block, the data, its own
//! writes) at its first allocation that leaves the thread cache; the parent waits until then,
//! or until the child execs or exits, so fork+exec (every shell pipeline) costs it no copy.
//! vfork and posix_spawn run no fork handlers and need none: the child execs.
//!
//! This module adds what is the preload's own: a forked child reports only what it allocates
//! itself, and samples only its own live bytes.

/// Makes sure morselkind's fork handlers are registered, and registers ours, which runs after
/// them in the child (handlers registered later run later there).
pub fn install() {
    morselkind::install_fork_handlers();
    // SAFETY: a plain function without state; registering may allocate (the caller is inside
    // the library, so glibc serves it).
    unsafe { libc::pthread_atfork(None, None, Some(child)) };
}

extern "C" fn child() {
    memtier::counters::reset_totals();
    memtier::sampler::restart();
}
