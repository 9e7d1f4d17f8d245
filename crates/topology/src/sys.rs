//! The only two libc calls this crate makes. Everything else reads files.
#![allow(unsafe_code)]

/// The CPU the calling thread runs on right now, or `None` if the kernel cannot say.
///
/// The answer can be stale by the time it is used (the scheduler may migrate the thread),
/// which is fine for choosing a NUMA node: memkind uses it the same way.
pub(crate) fn current_cpu() -> Option<u32> {
    // SAFETY: sched_getcpu takes no arguments, touches no memory of ours and only
    // returns a number or -1 with errno set.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).ok()
}

/// True when the process runs with elevated privileges (setuid, setgid, capabilities).
///
/// memkind reads its variables with `secure_getenv`, which returns nothing in that case, so
/// an unprivileged user cannot steer a privileged program's memory placement.
pub(crate) fn is_secure_execution() -> bool {
    // SAFETY: getauxval only reads the auxiliary vector the kernel handed to the process;
    // it takes a plain integer key and returns 0 for a missing entry.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}
