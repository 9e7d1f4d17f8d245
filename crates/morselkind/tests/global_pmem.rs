//! The whole test program runs on a PMEM kind: `#[global_allocator]` is a `KindAlloc` whose kind
//! is made on first use in /var/tmp. The test proves where the allocations went with the
//! pointer→kind lookup, the kind's statistics and the file blocks behind it.

use std::collections::HashMap;
use std::path::Path;

use morselkind::{Kind, KindAlloc, PmemConfig};

#[global_allocator]
static A: KindAlloc = KindAlloc::with_init(|| Kind::pmem(&PmemConfig::new(Path::new("/var/tmp"))));

fn the_kind() -> Kind {
    let k = A.kind().expect("the global allocator's kind was made");
    assert!(k.is_live());
    assert!(k.static_kind().is_none(), "{k:?} is a static kind, not the PMEM kind");
    assert_ne!(k, Kind::DEFAULT);
    assert!(k.source().expect("a live kind has a source").fd().is_some(), "{k:?} is not file-backed");
    k
}

#[test]
fn the_whole_program_runs_on_a_pmem_kind() {
    let kind = the_kind();

    // Memory the harness allocated before the test body ran (the name of the test's thread)
    // is in the kind as well.
    let me = std::thread::current();
    let name = me.name().expect("libtest names its threads");
    assert_eq!(Kind::detect(name.as_ptr()), Some(kind), "the thread name {name:?} is not in the kind");

    morselkind::update_cached_stats();
    let before = kind.stats().allocated;

    // Large blocks (beyond the thread caches, so the arenas' statistics see each of them).
    const BIG: usize = 4 << 20;
    let mut v: Vec<u8> = Vec::with_capacity(BIG);
    v.resize(BIG, 0x5a);
    let s: String = "morsel ".repeat(100_000);
    let boxes: Vec<Box<[u64]>> = (0..64).map(|i| vec![i as u64; 8192].into_boxed_slice()).collect();
    let mut m: HashMap<u64, String> = HashMap::with_capacity(50_000);
    for i in 0..50_000u64 {
        m.insert(i, format!("value {i}"));
    }
    let big_bytes = v.capacity() + s.capacity() + boxes.len() * 8192 * 8;

    for (what, p) in [
        ("Vec", v.as_ptr()),
        ("String", s.as_ptr()),
        ("Box", boxes[17].as_ptr().cast()),
        ("HashMap value", m[&12345].as_ptr()),
        ("HashMap table", (&m[&0] as *const String).cast()),
    ] {
        assert_eq!(Kind::detect(p), Some(kind), "{what} at {p:?} is not in the PMEM kind");
    }
    // A DEFAULT block, asked for explicitly, is told apart.
    let d = Kind::DEFAULT.malloc(64).unwrap();
    assert_eq!(Kind::detect(d.as_ptr()), Some(Kind::DEFAULT));
    // SAFETY: a live DEFAULT block.
    unsafe { Kind::DEFAULT.free(d) };

    morselkind::update_cached_stats();
    let after = kind.stats().allocated;
    assert!(
        after >= before + big_bytes,
        "stats.allocated grew by {} bytes, but {big_bytes} were allocated",
        after.saturating_sub(before)
    );
    let committed = kind.committed();
    let file = kind.source().unwrap().file_bytes();
    let morselkind::MorselTotals { count: morsels, mapped } = kind.morsels();
    eprintln!(
        "PMEM kind {kind:?}: allocated {after} B (+{}), committed {committed} B, file {file} B, \
         {morsels} morsels over {mapped} B",
        after - before
    );
    assert!(committed >= big_bytes, "committed {committed} < {big_bytes}");
    assert!(file >= big_bytes as u64, "the file holds {file} bytes < {big_bytes}");
    assert!(morsels >= 1 && mapped >= 1 << 30);

    // Threads allocate there too, and their blocks can cross back to the main thread.
    let handles: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let k = A.kind().unwrap();
                let mut local: Vec<String> = (0..1000).map(|i| format!("thread {t} item {i}")).collect();
                local.shrink_to_fit();
                for s in &local {
                    assert_eq!(Kind::detect(s.as_ptr()), Some(k));
                }
                assert_eq!(Kind::detect(local.as_ptr().cast()), Some(k));
                let sent = vec![t as u8; 1 << 20];
                assert_eq!(Kind::detect(sent.as_ptr()), Some(k));
                (k, sent)
            })
        })
        .collect();
    for (t, h) in handles.into_iter().enumerate() {
        let (k, sent) = h.join().expect("worker thread");
        assert_eq!(k, kind);
        assert_eq!(Kind::detect(sent.as_ptr()), Some(kind));
        assert!(sent.iter().all(|&b| b == t as u8));
    }

    // Contents survived.
    assert!(v.iter().all(|&b| b == 0x5a));
    assert_eq!(m[&49_999], "value 49999");
    assert!(boxes.iter().enumerate().all(|(i, b)| b.iter().all(|&x| x == i as u64)));
    drop((v, s, boxes, m));

    morselkind::update_cached_stats();
    let freed = kind.stats().allocated;
    assert!(freed + big_bytes <= after, "freeing did not show in stats: {after} -> {freed}");
}
