//! fork(): a child gets its own copy of every PMEM kind (memkind's file kinds share their pages
//! between parent and child, memkind issue #224), and no lock of ours is left held in it, even
//! when another thread was creating kinds and allocating at the moment of the fork.
//!
//! Children only call `_exit`: they report through their exit status. The tests count the
//! process's fds, so they run one at a time under `serial()`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use morselkind::{Kind, PmemConfig};
use test_support::fs::{is_empty, scratch_dir};
use test_support::proc_self::fd_count;
use test_support::serial;

fn test_dir(name: &str) -> PathBuf {
    scratch_dir(&std::env::temp_dir(), &format!("morselkind-fork-{name}"))
}

/// Whether every byte of `[p, p+len)` is `v`.
///
/// # Safety
/// The range must be readable.
unsafe fn all(p: *const u8, len: usize, v: u8) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { std::slice::from_raw_parts(p, len) }.iter().all(|&b| b == v)
}

/// Forks; the child runs `child` and exits with its status, running nothing else.
fn fork_child(child: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: fork; the child only runs `child` and `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let status = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(99);
        // SAFETY: ends the child without running the parent's exit handlers or test harness.
        unsafe { libc::_exit(status) };
    }
    pid
}

/// Waits for `pid` up to `limit`; kills it and returns None on timeout, else its exit status
/// (or 128 + the signal that ended it).
fn wait_for(pid: libc::pid_t, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: waits for our own child, without blocking.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            return Some(if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            });
        }
        assert!(rc == 0, "waitpid failed");
        if start.elapsed() > limit {
            // SAFETY: our own child; reaped below.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

const BIG: usize = 3 << 20;
const SMALL: usize = 48;

#[test]
fn child_has_its_own_copy_of_a_pmem_kind() {
    let _s = serial();
    let dir = test_dir("copy");
    let fds_before = fd_count();
    let kind = Kind::pmem(&PmemConfig::new(&dir)).unwrap();
    let (big_block, small_block) = (kind.malloc(BIG).unwrap(), kind.malloc(SMALL).unwrap());
    let (big, small) = (big_block.as_ptr(), small_block.as_ptr());
    // SAFETY: both blocks are ours and that long.
    unsafe {
        big.write_bytes(0xAA, BIG);
        small.write_bytes(0xA5, SMALL);
    }
    let fds_with_kind = fd_count();

    let child_dir = dir.clone();
    let pid = fork_child(move || {
        // SAFETY: the blocks are the child's copies of the parent's.
        unsafe {
            if !all(big, BIG, 0xAA) || !all(small, SMALL, 0xA5) {
                return 1; // The copy lost the parent's contents.
            }
            big.write_bytes(0x55, BIG);
            small.write_bytes(0x5A, SMALL);
            // Let a parent that shared the pages show its own bytes, were it writing.
            std::thread::sleep(Duration::from_millis(20));
            if !all(big, BIG, 0x55) || !all(small, SMALL, 0x5A) {
                return 2; // The child does not see its own writes.
            }
            // The child's kind still allocates and frees, new morsels included.
            let mut blocks = Vec::new();
            for i in 0..64 {
                let Ok(p) = kind.malloc(4096 + i * 1000) else { return 3 };
                p.as_ptr().write_bytes(i as u8, 4096 + i * 1000);
                blocks.push(p);
            }
            let Ok(huge) = kind.malloc(1 << 30) else { return 4 };
            huge.as_ptr().write_bytes(7, 1 << 20);
            kind.free(huge);
            for (i, p) in blocks.into_iter().enumerate() {
                if !all(p.as_ptr(), 4096 + i * 1000, i as u8) {
                    return 5;
                }
                kind.free(p);
            }
            kind.free(big_block);
            kind.free(small_block);
            if kind.destroy().is_err() {
                return 6;
            }
        }
        if !is_empty(&child_dir) {
            return 7;
        }
        0
    });
    let status = wait_for(pid, Duration::from_secs(60));
    assert_eq!(
        status,
        Some(0),
        "child failed (1 lost data, 2 shares pages, 3-6 kind unusable, 7 dir not empty)"
    );
    // SAFETY: our blocks.
    unsafe {
        assert!(all(big, BIG, 0xAA), "the child's writes reached the parent's block (memkind #224)");
        assert!(all(small, SMALL, 0xA5), "the child's writes reached the parent's small block");
    }
    assert_eq!(fd_count(), fds_with_kind, "the fork left an fd open in the parent");
    let p = kind.malloc(1 << 20).unwrap();
    // SAFETY: ours; then the kind is destroyed with nothing used afterwards.
    unsafe {
        p.as_ptr().write_bytes(1, 1 << 20);
        kind.free(p);
        kind.free(big_block);
        kind.free(small_block);
        kind.destroy().unwrap();
    }
    assert!(is_empty(&dir), "a file was left in {}", dir.display());
    assert_eq!(fd_count(), fds_before, "an fd leaked");
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn fork_during_kind_churn_does_not_deadlock_the_child() {
    let _s = serial();
    let dir = test_dir("churn");
    let shared = Kind::pmem(&PmemConfig::new(&dir)).unwrap();
    let limited = Kind::pmem(&PmemConfig::limited(&dir, 32 << 20)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    // Kind creation and destruction, with allocations in each new kind.
    {
        let (stop, rounds, dir) = (stop.clone(), rounds.clone(), dir.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let k = Kind::pmem(&PmemConfig::new(&dir)).unwrap();
                let blocks: Vec<_> = (0..32).map(|i| k.malloc(64 << (i % 12)).unwrap()).collect();
                for b in blocks {
                    // SAFETY: blocks of `k`, freed once.
                    unsafe { k.free(b) };
                }
                // SAFETY: nothing of `k` is used afterwards.
                unsafe { k.destroy().unwrap() };
                rounds.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // malloc and free on long-lived kinds, a limited one near its limit included.
    for kind in [shared, limited, Kind::DEFAULT] {
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            let mut held = std::collections::VecDeque::new();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                if let Ok(p) = kind.malloc(16 << (i % 17)) {
                    // SAFETY: at least 16 bytes of ours.
                    unsafe { p.as_ptr().write_bytes(i as u8, 16) };
                    held.push_back(p);
                }
                if held.len() > 200 || (i % 7 == 0 && !held.is_empty()) {
                    // SAFETY: a block of `kind`, freed once.
                    unsafe { kind.free(held.pop_front().unwrap()) };
                }
            }
            for p in held {
                // SAFETY: as above.
                unsafe { kind.free(p) };
            }
        }));
    }
    // Small blocks in batches on the shared kind: its thread cache fills and flushes all the
    // time, so forks catch the thread inside a busy window.
    {
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let blocks: Vec<_> =
                    (0..150).filter_map(|j| shared.malloc(32 + (i + j) % 8 * 64).ok()).collect();
                for b in blocks {
                    // SAFETY: a block of `shared`, freed once.
                    unsafe { shared.free(b) };
                }
            }
        }));
    }
    while rounds.load(Ordering::Relaxed) < 3 {
        std::thread::sleep(Duration::from_millis(1));
    }

    for round in 0..50u64 {
        std::thread::sleep(Duration::from_micros(round * 37 % 900));
        let child_dir = dir.clone();
        let pid = fork_child(move || {
            let mut status = 0;
            for (n, kind) in [Kind::DEFAULT, shared, limited].into_iter().enumerate() {
                let blocks: Vec<_> = (0..100).filter_map(|i| kind.malloc(24 + i * 40).ok()).collect();
                if blocks.len() != 100 && n != 2 {
                    status = 10 + n as i32;
                }
                for b in blocks {
                    // SAFETY: blocks of `kind`, freed once.
                    unsafe { kind.free(b) };
                }
            }
            // Kinds can still be made and destroyed: no registry lock left held, and no busy
            // window of a vanished thread waited for (every dynamic kind goes, the one the
            // churning thread was using at the fork included).
            let Ok(k) = Kind::pmem(&PmemConfig::new(&child_dir)) else { return 20 };
            let Ok(b) = k.malloc(100_000) else { return 21 };
            // SAFETY: ours, freed once; nothing of the kinds is used after their destruction.
            unsafe {
                k.free(b);
                for k in morselkind::live_kinds().filter(|k| k.static_kind().is_none()) {
                    if k.destroy().is_err() {
                        return 22;
                    }
                }
            }
            if !is_empty(&child_dir) {
                return 23;
            }
            status
        });
        match wait_for(pid, Duration::from_secs(30)) {
            None => panic!("round {round}: the child did not finish within 30 s (deadlock)"),
            Some(s) => assert_eq!(s, 0, "round {round}: child failed"),
        }
    }

    stop.store(true, Ordering::Relaxed);
    threads.into_iter().for_each(|t| t.join().unwrap());
    // SAFETY: the threads are done with both kinds.
    unsafe {
        shared.destroy().unwrap();
        limited.destroy().unwrap();
    }
    assert!(is_empty(&dir), "a file was left in {}", dir.display());
    std::fs::remove_dir(&dir).unwrap();
}
