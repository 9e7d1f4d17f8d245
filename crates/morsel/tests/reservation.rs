//! What a forked child's copy must reserve (`Morsel::for_each_reserved_run`): exactly the
//! pages noted committed, plus whole chunks and granules claimed, and nothing after a purge;
//! and `sys::reserve` alignment without a window of twice the size.

mod common;

use morsel::{sys, Morsel, Order, Purge, Source, CHUNK, GRANULE_SIZE, PAGE_SIZE};
use test_support::fs::TestDir;

/// The tests map 1 GiB morsels, and one measures the address space before it forks under a
/// limit: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

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
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TestDir::new(&std::env::temp_dir(), "morsel-test-reservation");
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
fn chunk_writes_reserve_whole_chunks_and_spare_pages_in_use() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TestDir::new(std::path::Path::new("/var/tmp"), "morsel-test-chunk-writes");
    let src = Source::tmpfile(dir.path()).expect("tmpfile");
    let m = Morsel::create(&src, Order::Pud, Order::Pud.size(), Order::Pud.size()).unwrap();
    let page = |i: usize| m.base() + i * PAGE_SIZE;
    let per_chunk = CHUNK / PAGE_SIZE;

    // A chunk none of whose pages is committed is written whole and counts whole.
    m.write_chunks(&src, page(1), PAGE_SIZE).unwrap();
    m.note_committed(page(1), PAGE_SIZE, true);
    assert_eq!(runs(&m), vec![(0, CHUNK)]);
    assert_eq!(src.file_bytes(), CHUNK as u64, "the whole chunk's blocks are reserved");

    // A page in use in the next chunk: a commit beside it writes its own range only, and the
    // data in use survives.
    let used = page(per_chunk + 2);
    m.note_committed(used, PAGE_SIZE, true);
    // SAFETY: the page is inside the morsel, noted committed, and ours alone.
    unsafe { std::ptr::write_bytes(used as *mut u8, 0xa5, PAGE_SIZE) };
    m.write_chunks(&src, page(per_chunk + 3), 2 * PAGE_SIZE).unwrap();
    m.note_committed(page(per_chunk + 3), 2 * PAGE_SIZE, true);
    // SAFETY: as above.
    let kept = unsafe { std::slice::from_raw_parts(used as *const u8, PAGE_SIZE) };
    assert!(kept.iter().all(|&b| b == 0xa5), "a chunk write destroyed a page in use");
    assert_eq!(runs(&m), vec![(0, CHUNK), (CHUNK + 2 * PAGE_SIZE, 3 * PAGE_SIZE)]);

    // A range across chunks: the free chunk whole, the partly used one exactly.
    m.write_chunks(&src, page(per_chunk + 5), CHUNK).unwrap();
    m.note_committed(page(per_chunk + 5), CHUNK, true);
    assert!(kept.iter().all(|&b| b == 0xa5));
    assert_eq!(runs(&m), vec![(0, CHUNK), (CHUNK + 2 * PAGE_SIZE, 2 * CHUNK - 2 * PAGE_SIZE)]);

    // A purge gives a chunk back: the next write there is exact again.
    m.purge(&src, page(0), CHUNK, Purge::Forced).unwrap();
    m.note_committed(page(0), CHUNK, false);
    assert_eq!(runs(&m), vec![(CHUNK + 2 * PAGE_SIZE, 2 * CHUNK - 2 * PAGE_SIZE)]);
    // SAFETY: nothing uses the morsel any more.
    unsafe { m.destroy(&src).unwrap() };
}

#[test]
fn reserve_aligns_without_a_double_window() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
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
