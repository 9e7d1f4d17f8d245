//! What a forked child's copy must reserve (`Morsel::for_each_reserved_run`): exactly the
//! pages noted committed, plus whole chunks and granules claimed, and nothing after a purge;
//! and `sys::reserve` alignment without a window of twice the size.

mod common;

use morsel::{sys, Morsel, Order, Purge, Source, CHUNK, GRANULE_SIZE, PAGE_SIZE};

fn runs(m: &Morsel) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    m.for_each_reserved_run(|a, l| {
        v.push((a - m.base(), l));
        Ok::<(), ()>(())
    })
    .unwrap();
    v
}

#[test]
fn reserved_runs_follow_commits_chunks_granules_and_purges() {
    let dir = common::TestDir::new(&std::env::temp_dir(), "reservation");
    let src = Source::tmpfile(dir.path()).expect("tmpfile");
    let m = Morsel::create(&src, Order::Pud, Order::Pud.size(), Order::Pud.size()).unwrap();
    assert!(runs(&m).is_empty());

    // Committed pages, exactly: two runs, one across a word boundary of the page map.
    m.note_committed(m.base() + 3 * PAGE_SIZE, 2 * PAGE_SIZE, true);
    m.note_committed(m.base() + 62 * PAGE_SIZE, 5 * PAGE_SIZE, true);
    assert_eq!(runs(&m), vec![(3 * PAGE_SIZE, 2 * PAGE_SIZE), (62 * PAGE_SIZE, 5 * PAGE_SIZE)]);
    m.note_committed(m.base() + 62 * PAGE_SIZE, 5 * PAGE_SIZE, false);
    assert_eq!(runs(&m), vec![(3 * PAGE_SIZE, 2 * PAGE_SIZE)]);

    // A claimed chunk counts whole, whatever was committed in it.
    let at = 4 * CHUNK + PAGE_SIZE;
    m.allocate_chunks(&src, m.base() + at, PAGE_SIZE).unwrap();
    assert_eq!(runs(&m), vec![(3 * PAGE_SIZE, 2 * PAGE_SIZE), (4 * CHUNK, CHUNK)]);
    assert!(src.file_bytes() >= CHUNK as u64, "the chunk's blocks are allocated");

    // So does an allocated granule.
    m.allocate_blocks(&src, m.base() + 3 * GRANULE_SIZE + 7 * PAGE_SIZE, PAGE_SIZE).unwrap();
    assert!(runs(&m).contains(&(3 * GRANULE_SIZE, GRANULE_SIZE)), "{:?}", runs(&m));

    // A purge gives the chunk and granule back; committed pages are the caller's to unnote.
    m.purge(&src, m.base() + 4 * CHUNK, PAGE_SIZE, Purge::Forced).unwrap();
    m.purge(&src, m.base() + 3 * GRANULE_SIZE, PAGE_SIZE, Purge::Forced).unwrap();
    assert_eq!(runs(&m), vec![(3 * PAGE_SIZE, 2 * PAGE_SIZE)]);
    // SAFETY: nothing uses the morsel any more.
    unsafe { m.destroy(&src).unwrap() };
}

#[test]
fn reserve_aligns_without_a_double_window() {
    for align in [GRANULE_SIZE, Order::Pud.size(), 64 << 30] {
        let len = Order::Pud.size();
        let at = sys::reserve(len, align).unwrap();
        assert_eq!(at % align, 0, "{align:#x}");
        // SAFETY: the reservation made just above.
        unsafe { sys::unmap(at, len).unwrap() };
    }
    // Under an address-space limit barely above the size, a 1 GiB-aligned 1 GiB reservation
    // still succeeds (a window of twice the size would not fit): in a child, so the limit
    // does not touch the other tests. The child allocates nothing (other test threads may hold
    // the allocator's locks at the fork).
    let vm = std::fs::read_to_string("/proc/self/status").unwrap();
    let used_kib: u64 = vm
        .lines()
        .find(|l| l.starts_with("VmSize:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap();
    let limit = used_kib * 1024 + Order::Pud.size() as u64 + (256 << 20);
    // SAFETY: the child only makes system calls before _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let rl = libc::rlimit { rlim_cur: limit, rlim_max: libc::RLIM_INFINITY };
        // SAFETY: setrlimit reads the struct we pass.
        let limited = unsafe { libc::setrlimit(libc::RLIMIT_AS, &rl) } == 0;
        let ok = limited
            && sys::reserve(Order::Pud.size(), Order::Pud.size()).is_ok_and(|a| a % Order::Pud.size() == 0);
        // SAFETY: ends the child.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "status {status}");
}
