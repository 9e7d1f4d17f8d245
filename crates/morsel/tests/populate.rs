//! Populate: concurrent callers do each granule's work exactly once, and the work is real
//! (pages are present and writable afterwards; file space is allocated).

mod common;

use std::sync::Barrier;

use morsel::{caps, sys, Morsel, Order, Source, GRANULE_SIZE, PAGE_SIZE};
use test_support::fs::{var_tmp, TestDir};

const RANGE: usize = 64 << 20;
const THREADS: usize = 8;
/// Where the populated range starts inside the 1 GiB morsel (granule aligned, not at the base).
const AT: usize = 256 << 20;

/// Creates a Pud morsel and has `THREADS` threads populate the same 64 MiB of it at once.
fn populate_concurrently(src: &Source) -> Morsel {
    let m = Morsel::create(src, Order::Pud, Order::Pud.size(), Order::Pud.size()).expect("create");
    assert_eq!(m.granule(), GRANULE_SIZE);
    let start = m.base() + AT;
    let barrier = Barrier::new(THREADS);
    let results: Vec<usize> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    m.populate(src, start, RANGE).expect("populate")
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let (calls, bytes) = m.populate_counters();
    eprintln!(
        "{:?}: per-thread populated bytes {results:?}, {calls} populate calls covering {bytes} bytes",
        src.backing()
    );
    assert_eq!(results.iter().sum::<usize>(), RANGE, "each granule populated exactly once");
    assert!(results.iter().all(|r| r % GRANULE_SIZE == 0));
    assert_eq!(bytes, RANGE as u64, "system calls covered the range exactly once");
    assert!((1..=(RANGE / GRANULE_SIZE) as u64).contains(&calls), "{calls} calls");

    // The bitmap covers exactly the range.
    let (first, last) = (AT / GRANULE_SIZE, (AT + RANGE) / GRANULE_SIZE);
    for g in 0..m.len() / GRANULE_SIZE {
        assert_eq!(m.is_populated(g), (first..last).contains(&g), "granule {g}");
    }
    // A second pass finds nothing to do and makes no calls.
    assert_eq!(m.populate(src, start, RANGE).unwrap(), 0);
    assert_eq!(m.populate_counters(), (calls, bytes));
    m
}

/// Touches one byte per page of the populated range and checks that (almost) no page faulted.
/// For contrast, also touches an unpopulated range of the same morsel and reports its faults.
fn check_no_faults_on_touch(m: &Morsel) {
    if !caps().populate_write {
        eprintln!("SKIP: MADV_POPULATE_WRITE is not supported; the fault check is skipped");
        return;
    }
    let pages = (RANGE / PAGE_SIZE) as u64;
    let before = sys::page_faults();
    common::touch_pages(m, AT, RANGE, 0x5a);
    let populated_faults = sys::page_faults() - before;

    let control_at = AT + RANGE + GRANULE_SIZE;
    let control_len = 8 << 20;
    let before = sys::page_faults();
    common::touch_pages(m, control_at, control_len, 0x5a);
    let control_faults = sys::page_faults() - before;

    eprintln!(
        "{populated_faults} minor faults touching {pages} populated pages; \
         {control_faults} touching {} unpopulated pages",
        control_len / PAGE_SIZE
    );
    assert!(
        populated_faults * 100 < pages,
        "{populated_faults} faults on {pages} populated pages (limit 1%)"
    );
    assert!(control_faults > populated_faults, "the fault counter does not see faults at all");
    assert!(common::all_equal(m, AT, 1, 0x5a) && common::all_equal(m, AT + RANGE - PAGE_SIZE, 1, 0x5a));
}

#[test]
fn concurrent_populate_anon() {
    let _serial = test_support::serial();
    let src = Source::anon();
    let m = populate_concurrently(&src);
    check_no_faults_on_touch(&m);
    // SAFETY: no pointer into the morsel is used after this.
    unsafe { m.destroy(&src) }.unwrap();
}

#[test]
fn concurrent_populate_file() {
    let _serial = test_support::serial();
    let dir = TestDir::new(&var_tmp(), "morsel-test-populate");
    let src = Source::tmpfile(dir.path()).expect("tmpfile");
    let blocks_before = src.file_bytes();
    let m = populate_concurrently(&src);
    let blocks_after = src.file_bytes();
    eprintln!("file blocks: {blocks_before} -> {blocks_after} bytes");
    assert!(
        blocks_after >= blocks_before + RANGE as u64,
        "fallocate did not allocate the range: {blocks_before} -> {blocks_after}"
    );
    check_no_faults_on_touch(&m);
    // SAFETY: no pointer into the morsel is used after this.
    unsafe { m.destroy(&src) }.unwrap();
    drop(src);
    assert!(dir.entries().is_empty(), "left in the directory: {:?}", dir.entries());
}

#[test]
fn populate_rounds_out_to_granules_and_checks_range() {
    let _serial = test_support::serial();
    let src = Source::anon();
    let m = Morsel::create(&src, Order::Pmd, 4 * Order::Pmd.size(), Order::Pmd.size()).unwrap();
    // One byte in granule 1 populates all of granule 1 and nothing else.
    assert_eq!(m.populate(&src, m.base() + GRANULE_SIZE + 100, 1).unwrap(), GRANULE_SIZE);
    assert_eq!((0..4).map(|g| m.is_populated(g)).collect::<Vec<_>>(), [false, true, false, false]);
    // A range straddling granules 1..=2 only does granule 2.
    assert_eq!(m.populate(&src, m.base() + GRANULE_SIZE, GRANULE_SIZE + 1).unwrap(), GRANULE_SIZE);
    assert_eq!(m.populate_counters(), (2, 2 * GRANULE_SIZE as u64));
    // Out of range: refused, nothing claimed.
    let einval = Err(morsel::Errno(libc::EINVAL));
    assert_eq!(m.populate(&src, m.base() + 3 * GRANULE_SIZE, GRANULE_SIZE + 1), einval);
    assert_eq!(m.populate(&src, m.base() - PAGE_SIZE, PAGE_SIZE), einval);
    assert!(!m.is_populated(3));
    assert_eq!(m.populate(&src, m.base(), 0).unwrap(), 0);
    // SAFETY: no pointer into the morsel is used after this.
    unsafe { m.destroy(&src) }.unwrap();
}

/// Writes one byte in every page of `[addr, addr+len)` and returns the page faults that took.
fn touch_faults(addr: usize, len: usize) -> u64 {
    let before = sys::thread_page_faults();
    for p in (addr..addr + len).step_by(PAGE_SIZE) {
        // SAFETY: the caller passes a mapped, writable range of its own morsel.
        unsafe { (p as *mut u8).write_volatile(1) };
    }
    sys::thread_page_faults() - before
}

/// A run of at least `helper::SPLIT_MIN` is populated half by the caller, half by the helper
/// thread, with every page present afterwards; a forked child starts a helper of its own
/// (the parent's does not exist there) rather than waiting forever for it.
#[test]
fn large_runs_are_split_with_the_helper_and_a_fork_child_gets_its_own() {
    let _serial = test_support::serial();
    let cpus = morsel::helper::usable_cpus();
    if cpus < 2 || !caps().populate_write {
        eprintln!(
            "SKIPPED: the populate helper needs 2 usable CPUs and MADV_POPULATE_WRITE (have {cpus} CPUs)"
        );
        return;
    }
    let src = Source::anon();
    let m = Morsel::create(&src, Order::Pud, Order::Pud.size(), Order::Pud.size()).expect("create");
    let run = 4 * morsel::helper::SPLIT_MIN;
    let jobs = morsel::helper::jobs();
    assert_eq!(m.populate(&src, m.base(), run).unwrap(), run);
    assert_eq!(morsel::helper::jobs(), jobs + 1, "the helper did the second half");
    assert_eq!(touch_faults(m.base(), run), 0, "every page of both halves is present");

    // SAFETY: the child only populates, touches and exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: a timer that kills the child should it hang waiting for a helper.
        unsafe { libc::alarm(30) };
        let at = m.base() + run;
        let ok = m.populate(&src, at, run) == Ok(run)
            && morsel::helper::jobs() == jobs + 2
            && touch_faults(at, run) == 0;
        // SAFETY: leaves the child at once, without running the parent's test harness.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed or hung (status {status:#x})"
    );
    // SAFETY: no pointer into the morsel is used after this.
    unsafe { m.destroy(&src) }.unwrap();
}
