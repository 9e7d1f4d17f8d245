//! A helper thread that populates the second half of a large run while the caller populates the
//! first. Populating is the kernel zeroing pages (and, in a virtual machine, the host backing
//! them), which goes at the speed of one CPU per caller: two CPUs fill a large block about twice
//! as fast, and a huge kind's first touch is bound by exactly that.
//!
//! One job at a time: a caller that finds the helper busy populates its whole run itself, as
//! does every caller in a process limited to one CPU or where the thread cannot be started.
//!
//! Placement: the pages the helper faults in follow the range's own policy (mbind) where it has
//! one; otherwise the thread's policy applies, so the helper takes the caller's policy for the
//! job, and for the default (local) policy prefers the caller's node, as the caller's own faults
//! would.
//!
//! Fork: the child has no helper thread. The pid recorded at start tells, and the child's first
//! large populate starts its own (resetting a job the parent had in flight).

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::lock::{futex_wait, futex_wake_all};
use crate::sys::{self, Errno, SysResult};

/// Runs at least this long are split.
pub const SPLIT_MIN: usize = 4 << 20;

const IDLE: u32 = 0;
const CLAIMED: u32 = 1;
const POSTED: u32 = 2;
const DONE: u32 = 3;

static STATE: AtomicU32 = AtomicU32::new(IDLE);
static JOB_ADDR: AtomicUsize = AtomicUsize::new(0);
static JOB_LEN: AtomicUsize = AtomicUsize::new(0);
static JOB_MODE: AtomicI32 = AtomicI32::new(0);
static JOB_MASK: AtomicU64 = AtomicU64::new(0);
static JOB_ERR: AtomicI32 = AtomicI32::new(0);
/// The process the helper runs in: 0 none yet, -1 none possible.
static HELPER_PID: AtomicI32 = AtomicI32::new(0);
static SPAWNING: AtomicU32 = AtomicU32::new(0);
static JOBS: AtomicU64 = AtomicU64::new(0);

/// How many half-runs the helper thread has populated in this process (a fork child counts on
/// from its parent's figure).
pub fn jobs() -> u64 {
    JOBS.load(Ordering::Relaxed)
}

use crate::sys::{MPOL_DEFAULT, MPOL_LOCAL, MPOL_PREFERRED};

/// `MADV_POPULATE_WRITE` over `[addr, addr+len)`, the second half (at a multiple of `granule`)
/// by the helper thread when the run is long enough and the helper is free.
///
/// # Safety
/// The caller owns the range; populating does not change its contents.
pub unsafe fn populate_write(addr: usize, len: usize, granule: usize) -> SysResult<()> {
    let half = (len / 2) & !(granule - 1);
    if len < SPLIT_MIN || half == 0 || !helper_running() {
        // SAFETY: forwarded from the caller.
        return unsafe { sys::madvise(addr, len, sys::MADV_POPULATE_WRITE) };
    }
    if STATE.compare_exchange(IDLE, CLAIMED, Ordering::Acquire, Ordering::Relaxed).is_err() {
        // SAFETY: forwarded from the caller.
        return unsafe { sys::madvise(addr, len, sys::MADV_POPULATE_WRITE) };
    }
    let (mode, mask) = caller_policy();
    JOB_ADDR.store(addr + half, Ordering::Relaxed);
    JOB_LEN.store(len - half, Ordering::Relaxed);
    JOB_MODE.store(mode, Ordering::Relaxed);
    JOB_MASK.store(mask, Ordering::Relaxed);
    STATE.store(POSTED, Ordering::Release);
    futex_wake_all(&STATE);
    // SAFETY: forwarded from the caller (the first half).
    let mine = unsafe { sys::madvise(addr, half, sys::MADV_POPULATE_WRITE) };
    loop {
        let s = STATE.load(Ordering::Acquire);
        if s == DONE {
            break;
        }
        futex_wait(&STATE, s);
    }
    let theirs = JOB_ERR.load(Ordering::Relaxed);
    STATE.store(IDLE, Ordering::Release);
    mine?;
    if theirs != 0 {
        return Err(Errno(theirs));
    }
    Ok(())
}

/// The calling thread's memory policy as (mode, first 64 nodes of its mask); the default
/// (local) policy becomes "prefer the node this thread runs on".
fn caller_policy() -> (i32, u64) {
    match crate::sys::thread_policy() {
        Ok((mode, mask)) if mode != MPOL_DEFAULT && mode != MPOL_LOCAL => (mode, mask),
        _ => {
            let node = crate::sys::current_cpu().map_or(0, |(_, node)| node);
            (MPOL_PREFERRED, 1u64.checked_shl(node).unwrap_or(0))
        }
    }
}

/// Whether the helper runs in this process, starting it if need be.
fn helper_running() -> bool {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    match HELPER_PID.load(Ordering::Acquire) {
        -1 => return false,
        p if p == me => return true,
        _ => {}
    }
    if SPAWNING.swap(1, Ordering::Acquire) != 0 {
        return false;
    }
    let running = HELPER_PID.load(Ordering::Acquire) == me || spawn(me);
    SPAWNING.store(0, Ordering::Release);
    running
}

fn spawn(me: i32) -> bool {
    if usable_cpus() < 2 {
        HELPER_PID.store(-1, Ordering::Release);
        return false;
    }
    // A fork child may inherit a job the parent had in flight; nobody will finish it.
    STATE.store(IDLE, Ordering::Release);
    // SAFETY: plain pthread calls on locals; the thread runs `helper_main`, which takes no
    // argument and never returns, and is detached so nothing joins it. Signals are the
    // program's business: the thread starts with all of them blocked (it inherits the mask in
    // force at pthread_create), and the caller's mask is restored after.
    let ok = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        let mut tid: libc::pthread_t = 0;
        let ok = libc::pthread_attr_init(&mut attr) == 0 && {
            libc::pthread_attr_setstacksize(&mut attr, 64 << 10);
            libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
            let rc = libc::pthread_create(&mut tid, &attr, helper_main, std::ptr::null_mut());
            libc::pthread_attr_destroy(&mut attr);
            rc == 0
        };
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        ok
    };
    // A process whose thread cannot start now may manage later (after a fork, say): not -1.
    if ok {
        HELPER_PID.store(me, Ordering::Release);
    }
    ok
}

/// The CPUs this process may run on (its affinity mask, as `taskset` or a cgroup set it).
pub fn usable_cpus() -> usize {
    // SAFETY: the kernel fills the set on the stack; CPU_COUNT only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return 1;
        }
        libc::CPU_COUNT(&set).max(1) as usize
    }
}

extern "C" fn helper_main(_: *mut libc::c_void) -> *mut libc::c_void {
    let (mut mode, mut mask) = (-1, 0);
    loop {
        let s = STATE.load(Ordering::Acquire);
        if s != POSTED {
            futex_wait(&STATE, s);
            continue;
        }
        let (addr, len) = (JOB_ADDR.load(Ordering::Relaxed), JOB_LEN.load(Ordering::Relaxed));
        let (m, k) = (JOB_MODE.load(Ordering::Relaxed), JOB_MASK.load(Ordering::Relaxed));
        if (m, k) != (mode, mask) {
            // SAFETY: the mask outlives the call; a bad policy only fails the call.
            unsafe { libc::syscall(libc::SYS_set_mempolicy, m, &k as *const u64, 65usize) };
            (mode, mask) = (m, k);
        }
        // SAFETY: the poster owns the range and waits for DONE before using it otherwise.
        let r = unsafe { sys::madvise(addr, len, sys::MADV_POPULATE_WRITE) };
        JOB_ERR.store(r.err().map_or(0, |e| e.0), Ordering::Relaxed);
        JOBS.fetch_add(1, Ordering::Relaxed);
        STATE.store(DONE, Ordering::Release);
        futex_wake_all(&STATE);
    }
}
