//! The whole test program's `#[global_allocator]` is a `KindAlloc::with_init` whose init fails
//! (a PMEM kind in a directory that does not exist). The failure is remembered: init runs once,
//! not at every allocation; one line on stderr says why; every allocation is DRAM
//! (`Kind::DEFAULT`); and `init_error` returns the error. stderr is checked in a child: the
//! test re-runs this binary with MORSELKIND_TEST_CHILD set.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use morselkind::{Error, Kind, KindAlloc, PmemConfig};

static INIT_CALLS: AtomicUsize = AtomicUsize::new(0);

fn init() -> morselkind::Result<Kind> {
    INIT_CALLS.fetch_add(1, Ordering::Relaxed);
    Kind::pmem(&PmemConfig::new(Path::new("/nonexistent/morselkind-test")))
}

#[global_allocator]
static A: KindAlloc = KindAlloc::with_init(init);

/// What the child does: allocate a lot, then report on stdout.
fn child() {
    let v: Vec<Vec<u8>> = (0..10_000).map(|i| vec![i as u8; 1 + i % 300]).collect();
    let s = "morsel ".repeat(10_000);
    assert!(v.iter().all(|b| Kind::detect(b.as_ptr()) == Some(Kind::DEFAULT)));
    assert_eq!(Kind::detect(s.as_ptr()), Some(Kind::DEFAULT));
    println!("init_calls={} error={:?}", INIT_CALLS.load(Ordering::Relaxed), A.init_error());
}

#[test]
fn a_failed_init_is_said_once_and_dram_is_used() {
    if std::env::var_os("MORSELKIND_TEST_CHILD").is_some() {
        child();
        return;
    }
    // In this process: the harness has allocated already, so init ran (once) and failed.
    let v = vec![0u64; 4096];
    assert_eq!(Kind::detect(v.as_ptr().cast()), Some(Kind::DEFAULT));
    assert_eq!(A.init_error(), Some(Error::Directory(libc::ENOENT)));
    assert_eq!(A.kind(), Some(Kind::DEFAULT));
    assert_eq!(INIT_CALLS.load(Ordering::Relaxed), 1, "init was retried");

    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_failed_init_is_said_once_and_dram_is_used", "--nocapture", "--test-threads=1"])
        .env("MORSELKIND_TEST_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stdout}\n{stderr}");
    assert!(stdout.contains("init_calls=1 error=Some(Directory(2))"), "child said: {stdout}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("KindAlloc::with_init")).collect();
    assert_eq!(warnings.len(), 1, "expected one line on stderr, got: {stderr}");
    assert_eq!(
        warnings[0],
        "MORSELKIND_WARNING: KindAlloc::with_init: making the kind failed (the directory cannot hold \
         the kind's file: No such file or directory (ENOENT); MEMKIND_ERROR code -13); allocating \
         from Kind::DEFAULT (DRAM) from now on"
    );
}
