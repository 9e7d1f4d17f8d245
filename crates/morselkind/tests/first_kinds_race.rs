//! Threads that create their first kinds at the same moment, in a fresh process (the
//! pointer→kind directory does not exist yet): every kind must serve and be detected. This
//! once lost directory entries (two tables made at once, one overwriting the other), so that
//! fresh kinds could not commit memory. One test per file: the race needs a fresh process.

use std::sync::Barrier;

use morselkind::{Kind, PmemConfig};

const CHILD: &str = "MORSELKIND_FIRST_RACE_CHILD";

/// The race happens once per process, so the test runs it in many fresh child processes.
#[test]
fn first_kinds_created_at_once_all_serve() {
    if std::env::var_os(CHILD).is_some() {
        race();
        return;
    }
    for round in 0..20 {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "first_kinds_created_at_once_all_serve", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "round {round}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn race() {
    let dir = test_support::fs::scratch_dir(&std::env::temp_dir(), "morselkind-first-race");
    let threads = 8;
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (barrier, dir) = (&barrier, &dir);
            s.spawn(move || {
                barrier.wait();
                let k = Kind::pmem(&PmemConfig::limited(dir, 64 << 20)).unwrap();
                let mut blocks = Vec::new();
                for i in 0..200 {
                    let size = 16 + (i % 50) * 97;
                    let p = k.malloc(size).unwrap_or_else(|e| panic!("thread {t}: malloc({size}): {e:?}"));
                    // SAFETY: a fresh block of `size` bytes.
                    unsafe { p.as_ptr().write_bytes(t as u8, size) };
                    assert_eq!(Kind::detect(p.as_ptr()), Some(k));
                    blocks.push(p);
                }
                for p in blocks {
                    // SAFETY: blocks of `k`, written above and freed once.
                    unsafe {
                        assert_eq!(*p.as_ptr(), t as u8);
                        k.free(p);
                    }
                }
                // SAFETY: every block of `k` was freed; no other thread uses it.
                unsafe { k.destroy().unwrap() };
            });
        }
    });
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir(&dir).unwrap();
}
