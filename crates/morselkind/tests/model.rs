//! A model test of the heap calls: random sequences of malloc, calloc, realloc (larger, smaller,
//! the same size, and too large for a size-limited kind), aligned allocation and free over
//! DEFAULT, an unlimited PMEM kind and a 32 MiB PMEM kind. After every operation, every live
//! block must still hold its contents, be at least as large as requested, be aligned as asked,
//! overlap no other live block, be detected as its own kind, and have the usable size jemalloc
//! itself gives it (checks the directory's page tags on every path).
//!
//! One test only: the PMEM kinds are made once for the whole run and destroyed at its end, and
//! their directory must then be empty.

use std::path::PathBuf;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use morselkind::{Error, Kind, PmemConfig};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// 0: DEFAULT, 1: unlimited PMEM, 2: PMEM limited to 32 MiB (ENOMEM allowed).
const NKINDS: usize = 3;
const LIMITED: usize = 2;
const LIMIT: usize = 32 << 20;

#[derive(Clone, Debug)]
enum Resize {
    Larger(usize),
    Smaller(usize),
    Same,
    /// Beyond the limited kind's limit: must fail there and leave the block intact.
    TooLarge,
}

#[derive(Clone, Debug)]
enum Op {
    Malloc { kind: usize, size: usize },
    Calloc { kind: usize, num: usize, size: usize },
    Aligned { kind: usize, lg_align: u32, size: usize },
    Realloc { block: Index, how: Resize },
    Free { block: Index, any: bool },
}

#[derive(Clone, Debug)]
struct Block {
    ptr: usize,
    kind: usize,
    size: usize,
    align: usize,
    seed: u8,
}

/// What the run did, so that the test cannot pass without exercising each path.
static COUNTS: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];
const C_MALLOC: usize = 0;
const C_CALLOC: usize = 1;
const C_ALIGNED: usize = 2;
const C_REALLOC: usize = 3;
const C_REALLOC_FAILED: usize = 4;
const C_FREE: usize = 5;
const C_ENOMEM: usize = 6;
const C_PMEM_LIVE: usize = 7;

fn count(c: usize) {
    COUNTS[c].fetch_add(1, Ordering::Relaxed);
}

fn size_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![
        12 => 1usize..=256,
        6 => 257usize..=16 << 10,
        3 => (16usize << 10) + 1..=256 << 10,
        2 => (256usize << 10) + 1..=4 << 20,
        1 => (4usize << 20) + 1..=12 << 20,
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let kind = 0..NKINDS;
    prop_oneof![
        6 => (kind.clone(), size_strategy()).prop_map(|(kind, size)| Op::Malloc { kind, size }),
        2 => (kind.clone(), 1usize..=16, size_strategy())
            .prop_map(|(kind, num, size)| Op::Calloc { kind, num, size: size.div_ceil(num) }),
        2 => (kind, 3u32..=16, size_strategy())
            .prop_map(|(kind, lg_align, size)| Op::Aligned { kind, lg_align, size }),
        4 => (any::<Index>(), prop_oneof![
                3 => (1usize..=1 << 20).prop_map(Resize::Larger),
                2 => (1usize..=100).prop_map(Resize::Smaller),
                1 => Just(Resize::Same),
                1 => Just(Resize::TooLarge),
            ])
            .prop_map(|(block, how)| Op::Realloc { block, how }),
        5 => (any::<Index>(), any::<bool>()).prop_map(|(block, any)| Op::Free { block, any }),
    ]
}

#[inline]
fn pattern(seed: u8, i: usize) -> u8 {
    seed ^ ((i as u32).wrapping_mul(0x9e37_79b1) >> 24) as u8
}

fn fill(b: &Block, from: usize) {
    for i in from..b.size {
        // SAFETY: the block is live and `size` bytes long.
        unsafe { *(b.ptr as *mut u8).add(i) = pattern(b.seed, i) };
    }
}

/// Offsets of `b` to check: all of a small block, else its start, middle and end and a few
/// spread through it.
fn probes(size: usize) -> Vec<usize> {
    if size <= 1024 {
        return (0..size).collect();
    }
    let mut v: Vec<usize> = (0..32).chain(size / 2 - 16..size / 2 + 16).chain(size - 32..size).collect();
    v.extend((1..16).map(|k| size / 16 * k + 7));
    v
}

fn check_block(kinds: &[Kind; NKINDS], b: &Block) -> Result<(), String> {
    let p = b.ptr as *const u8;
    for i in probes(b.size) {
        // SAFETY: the block is live and `size` bytes long.
        let got = unsafe { *p.add(i) };
        if got != pattern(b.seed, i) {
            return Err(format!("block {b:?}: byte {i} is {got:#x}, want {:#x}", pattern(b.seed, i)));
        }
    }
    let nn = NonNull::new(p as *mut u8).ok_or("null block")?;
    let kind = kinds[b.kind];
    // SAFETY: a live block of `kind`.
    let usable = unsafe { kind.usable_size(nn) };
    if usable < b.size {
        return Err(format!("block {b:?}: usable size {usable} < requested"));
    }
    // The page tags (which give small blocks their size without asking jemalloc) must agree
    // with jemalloc whichever path made the block.
    // SAFETY: a live jemalloc block.
    let truth = unsafe { tikv_jemalloc_sys::sallocx(p as *const libc::c_void, 0) };
    if usable != truth {
        return Err(format!("block {b:?}: usable size {usable}, jemalloc says {truth}"));
    }
    // SAFETY: a live block of ours.
    let any = unsafe { morselkind::usable_size_any(nn) };
    if any != usable {
        return Err(format!("block {b:?}: usable_size_any {any} != usable_size {usable}"));
    }
    if b.ptr % b.align != 0 {
        return Err(format!("block {b:?}: not aligned to {}", b.align));
    }
    for at in [p, p.wrapping_add(b.size - 1), p.wrapping_add(usable - 1)] {
        if Kind::detect(at) != Some(kind) {
            return Err(format!("block {b:?}: detect({at:?}) = {:?}, want {kind:?}", Kind::detect(at)));
        }
    }
    Ok(())
}

fn check_all(kinds: &[Kind; NKINDS], live: &[Block]) -> Result<(), String> {
    let mut spans = Vec::with_capacity(live.len());
    for b in live {
        check_block(kinds, b)?;
        // SAFETY: a live block of its kind.
        let usable = unsafe { kinds[b.kind].usable_size(NonNull::new_unchecked(b.ptr as *mut u8)) };
        spans.push((b.ptr, b.ptr + usable));
    }
    spans.sort_unstable();
    for w in spans.windows(2) {
        if w[0].1 > w[1].0 {
            return Err(format!(
                "blocks overlap: {:#x}..{:#x} and {:#x}..{:#x}",
                w[0].0, w[0].1, w[1].0, w[1].1
            ));
        }
    }
    Ok(())
}

/// The alignment jemalloc guarantees without being asked.
fn natural_align(size: usize) -> usize {
    if size <= 8 {
        8
    } else {
        16
    }
}

/// An allocation's outcome: ENOMEM is allowed from the limited kind only.
fn outcome(
    kind: usize,
    r: morselkind::Result<NonNull<u8>>,
    what: &str,
) -> Result<Option<NonNull<u8>>, String> {
    match r {
        Ok(p) => Ok(Some(p)),
        Err(Error::OutOfMemory) if kind == LIMITED => {
            count(C_ENOMEM);
            Ok(None)
        }
        Err(e) => Err(format!("{what} on kind {kind}: {e:?}")),
    }
}

fn apply(kinds: &[Kind; NKINDS], live: &mut Vec<Block>, op: &Op, seed: u8) -> Result<(), String> {
    match *op {
        Op::Malloc { kind, size } => {
            if let Some(p) = outcome(kind, kinds[kind].malloc(size), "malloc")? {
                let b = Block { ptr: p.as_ptr() as usize, kind, size, align: natural_align(size), seed };
                fill(&b, 0);
                live.push(b);
                count(C_MALLOC);
            }
        }
        Op::Calloc { kind, num, size } => {
            if let Some(p) = outcome(kind, kinds[kind].calloc(num, size), "calloc")? {
                let total = num * size;
                // SAFETY: a fresh block of `total` bytes.
                let bytes = unsafe { std::slice::from_raw_parts(p.as_ptr(), total) };
                if let Some(i) = bytes.iter().position(|&x| x != 0) {
                    return Err(format!("calloc({num}, {size}) on kind {kind}: byte {i} is {:#x}", bytes[i]));
                }
                let b =
                    Block { ptr: p.as_ptr() as usize, kind, size: total, align: natural_align(total), seed };
                fill(&b, 0);
                live.push(b);
                count(C_CALLOC);
            }
        }
        Op::Aligned { kind, lg_align, size } => {
            let align = 1usize << lg_align;
            if let Some(p) = outcome(kind, kinds[kind].aligned(align, size), "aligned")? {
                let b = Block { ptr: p.as_ptr() as usize, kind, size, align, seed };
                fill(&b, 0);
                live.push(b);
                count(C_ALIGNED);
            }
        }
        Op::Realloc { ref block, ref how } => {
            if live.is_empty() {
                return Ok(());
            }
            let i = block.index(live.len());
            let b = live[i].clone();
            let new_size = match *how {
                Resize::Larger(extra) => b.size + extra,
                Resize::Smaller(pct) => (b.size * pct / 100).max(1),
                Resize::Same => b.size,
                Resize::TooLarge if b.kind == LIMITED => LIMIT + (1 << 20),
                Resize::TooLarge => (b.size / 3).max(1),
            };
            let kind = kinds[b.kind];
            // SAFETY: a live block of `kind`.
            let usable_before = unsafe { kind.usable_size(NonNull::new_unchecked(b.ptr as *mut u8)) };
            // SAFETY: as above.
            let r = unsafe { kind.realloc(NonNull::new_unchecked(b.ptr as *mut u8), new_size) };
            match outcome(b.kind, r, "realloc")? {
                Some(p) => {
                    if new_size > LIMIT && b.kind == LIMITED {
                        return Err(format!("realloc to {new_size} succeeded on a {LIMIT}-byte kind"));
                    }
                    let old = b.size;
                    let nb = Block {
                        ptr: p.as_ptr() as usize,
                        kind: b.kind,
                        size: new_size,
                        align: natural_align(new_size),
                        seed: b.seed,
                    };
                    // The kept prefix must have moved with the block, byte for byte.
                    for j in probes(old.min(new_size)) {
                        // SAFETY: the new block is at least `new_size` long.
                        let got = unsafe { *p.as_ptr().add(j) };
                        if got != pattern(b.seed, j) {
                            return Err(format!("realloc {old} -> {new_size}: byte {j} lost ({got:#x})"));
                        }
                    }
                    fill(&nb, old.min(new_size));
                    live[i] = nb;
                    count(C_REALLOC);
                }
                None => {
                    // The failed realloc left the block where it was, as it was.
                    // SAFETY: the old block is still live.
                    let usable = unsafe { kind.usable_size(NonNull::new_unchecked(b.ptr as *mut u8)) };
                    if usable != usable_before {
                        return Err(format!(
                            "failed realloc changed usable size {usable_before} -> {usable}"
                        ));
                    }
                    check_block(kinds, &b).map_err(|e| format!("after failed realloc: {e}"))?;
                    count(C_REALLOC_FAILED);
                }
            }
        }
        Op::Free { ref block, any } => {
            if live.is_empty() {
                return Ok(());
            }
            let b = live.swap_remove(block.index(live.len()));
            check_block(kinds, &b)?;
            let p = NonNull::new(b.ptr as *mut u8).expect("live blocks are non-null");
            // SAFETY: a live block of its kind, freed once.
            unsafe {
                if any {
                    morselkind::free_any(p);
                } else {
                    kinds[b.kind].free(p);
                }
            }
            count(C_FREE);
        }
    }
    Ok(())
}

fn run_case(kinds: &[Kind; NKINDS], ops: &[Op]) -> Result<(), String> {
    let mut live: Vec<Block> = Vec::new();
    let mut result = Ok(());
    for (n, op) in ops.iter().enumerate() {
        let r = apply(kinds, &mut live, op, n as u8).and_then(|()| check_all(kinds, &live));
        if let Err(e) = r {
            result = Err(format!("op {n} ({op:?}): {e}"));
            break;
        }
    }
    if live.iter().any(|b| b.kind != 0) {
        count(C_PMEM_LIVE);
    }
    // Leave the kinds empty for the next case (and for shrinking), whatever happened.
    for b in live.drain(..) {
        // SAFETY: a live block of its kind.
        unsafe { kinds[b.kind].free(NonNull::new_unchecked(b.ptr as *mut u8)) };
    }
    result
}

#[test]
fn heap_calls_follow_the_model() {
    let dir: PathBuf = test_support::fs::scratch_dir(&std::env::temp_dir(), "morselkind-model");
    let pmem = Kind::pmem(&PmemConfig::new(&dir)).expect("unlimited PMEM kind");
    let limited = Kind::pmem(&PmemConfig::limited(&dir, LIMIT)).expect("32 MiB PMEM kind");
    let kinds = [Kind::DEFAULT, pmem, limited];
    assert!(pmem != Kind::DEFAULT && limited != pmem);
    assert!(limited.is_limited() && !pmem.is_limited());

    // Argument rules the model does not generate.
    assert_eq!(Kind::DEFAULT.calloc(usize::MAX / 2, 3), Err(Error::OutOfMemory));
    assert_eq!(pmem.aligned(24, 64), Err(Error::Invalid));
    assert_eq!(limited.malloc(LIMIT + 1), Err(Error::OutOfMemory));

    let mut config = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 48;
    }
    let mut runner = TestRunner::new(config);
    let strategy = prop::collection::vec(op_strategy(), 1..=300);
    let result = runner.run(&strategy, |ops| run_case(&kinds, &ops).map_err(TestCaseError::fail));
    if let Err(e) = result {
        panic!("{e}");
    }

    let counts: Vec<usize> = COUNTS.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    eprintln!(
        "malloc {} calloc {} aligned {} realloc {} failed realloc {} free {} ENOMEM {} cases with PMEM blocks {}",
        counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6], counts[7]
    );
    for (c, name) in
        counts.iter().zip(["malloc", "calloc", "aligned", "realloc", "failed realloc", "free", "ENOMEM"])
    {
        assert!(*c > 0, "the run never did a successful {name}");
    }
    assert!(counts[C_PMEM_LIVE] > 0);

    // SAFETY: every block was freed; nothing uses the kinds any more.
    unsafe {
        pmem.destroy().unwrap();
        limited.destroy().unwrap();
    }
    assert_eq!(Kind::detect(std::ptr::null()), None);
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "files left in {}: {left:?}", dir.display());
    std::fs::remove_dir(&dir).unwrap();
}
