//! The cache-destroy protocol under load (see the module doc of `morselkind::cache`).
//!
//! Four workers each allocate and free in a loop from a PMEM kind of their own and from DEFAULT.
//! A churn thread, round after round, creates a PMEM kind K (the same table entry each time, so
//! every round's K meets the workers' caches of the previous rounds' K), fills 1000 blocks of
//! it, and hands half of them to the workers, who check and free them with `free_any` (into
//! their thread caches for K) and then allocate and free a few blocks of K themselves. The churn
//! thread keeps using K until the moment it destroys it, with the other half still allocated.
//! No thread may crash, every block must keep its contents, the workers' kinds and DEFAULT must
//! still serve correctly afterwards, and no fd may be left.

use std::path::PathBuf;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use morselkind::{Kind, PmemConfig};
use test_support::fs::scratch_dir;
use test_support::proc_self::fd_count;

const WORKERS: usize = 4;
const ROUNDS: usize = 200;
const BLOCKS: usize = 1000;
/// The churn thread stops starting rounds after this long; the whole test stays near 10 s.
const CHURN_TIME: Duration = Duration::from_secs(7);
const MIN_ROUNDS: usize = 10;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Mostly small sizes (served by the thread caches), some medium and a few large.
    fn size(&mut self) -> usize {
        match self.below(100) {
            0..=59 => 1 + self.below(1024),
            60..=89 => 1025 + self.below(7168),
            90..=98 => 8193 + self.below(56 << 10),
            _ => (64 << 10) + self.below(192 << 10),
        }
    }
}

/// A live block and the byte it is filled with (its first and last 64 bytes, and every 4 KiB).
#[derive(Clone, Copy, Debug)]
struct Block {
    ptr: usize,
    size: usize,
    byte: u8,
}

impl Block {
    fn offsets(&self) -> impl Iterator<Item = usize> {
        let size = self.size;
        (0..size.min(64)).chain(size.saturating_sub(64)..size).chain((0..size).step_by(4096))
    }

    fn new(p: NonNull<u8>, size: usize, byte: u8) -> Block {
        let b = Block { ptr: p.as_ptr() as usize, size, byte };
        for i in b.offsets() {
            // SAFETY: a live block of `size` bytes.
            unsafe { *(b.ptr as *mut u8).add(i) = byte };
        }
        b
    }

    fn check(&self, what: &str) {
        for i in self.offsets() {
            // SAFETY: a live block of `size` bytes.
            let got = unsafe { *(self.ptr as *const u8).add(i) };
            assert_eq!(got, self.byte, "{what}: block {self:?} byte {i}");
        }
    }

    fn nn(&self) -> NonNull<u8> {
        NonNull::new(self.ptr as *mut u8).unwrap()
    }
}

struct Batch {
    kind: Kind,
    blocks: Vec<Block>,
    done: Sender<usize>,
}

/// A ring of live blocks of one kind: each step frees one (after checking it) and allocates
/// a fresh one in its place.
struct Ring {
    kind: Kind,
    blocks: Vec<Option<Block>>,
}

impl Ring {
    fn new(kind: Kind, n: usize) -> Ring {
        Ring { kind, blocks: vec![None; n] }
    }

    fn step(&mut self, rng: &mut Rng, what: &str) {
        let i = rng.below(self.blocks.len());
        if let Some(b) = self.blocks[i].take() {
            b.check(what);
            assert_eq!(Kind::detect(b.ptr as *const u8), Some(self.kind), "{what}");
            // SAFETY: a live block of the ring's kind.
            unsafe { self.kind.free(b.nn()) };
        }
        let size = if rng.below(50) == 0 { 1 << 20 } else { 1 + rng.below(16 << 10) };
        let p = self.kind.malloc(size).unwrap_or_else(|e| panic!("{what}: malloc({size}): {e:?}"));
        self.blocks[i] = Some(Block::new(p, size, rng.next() as u8));
    }

    fn drain(&mut self, what: &str) {
        for b in self.blocks.iter_mut().filter_map(Option::take) {
            b.check(what);
            // SAFETY: a live block of the ring's kind.
            unsafe { self.kind.free(b.nn()) };
        }
    }
}

#[derive(Debug, Default)]
struct WorkerReport {
    batches: usize,
    freed: usize,
    steps: usize,
}

fn worker(id: usize, own: Kind, batches: Receiver<Batch>, stop: Arc<AtomicBool>) -> WorkerReport {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((id as u64 + 1) * 0x1234_5678));
    let mut mine = Ring::new(own, 64);
    let mut dram = Ring::new(Kind::DEFAULT, 64);
    let mut report = WorkerReport::default();
    loop {
        match batches.try_recv() {
            Ok(Batch { kind, blocks, done }) => {
                for b in &blocks {
                    b.check("a block handed over by the churn thread");
                    assert_eq!(Kind::detect(b.ptr as *const u8), Some(kind));
                    // SAFETY: a live block of a live kind, handed over to us to free.
                    unsafe { morselkind::free_any(b.nn()) };
                }
                // Use K from this thread too: these come from (and go back to) our cache for K.
                let local: Vec<Block> = (0..32)
                    .map(|_| {
                        let size = 1 + rng.below(4096);
                        Block::new(kind.malloc(size).expect("K serves the workers"), size, rng.next() as u8)
                    })
                    .collect();
                for b in &local {
                    b.check("a worker's own block of K");
                    assert_eq!(Kind::detect(b.ptr as *const u8), Some(kind));
                    // SAFETY: a live block of K.
                    unsafe { kind.free(b.nn()) };
                }
                report.batches += 1;
                report.freed += blocks.len();
                done.send(id).unwrap();
            }
            Err(_) if stop.load(Ordering::Acquire) => break,
            Err(_) => {}
        }
        for _ in 0..8 {
            mine.step(&mut rng, "worker's own PMEM kind");
            dram.step(&mut rng, "worker's DEFAULT");
            report.steps += 1;
        }
        // Two cores, five busy threads: leave the churn thread its share.
        std::thread::yield_now();
    }
    mine.drain("worker's own PMEM kind at the end");
    dram.drain("worker's DEFAULT at the end");
    report
}

#[test]
fn destroying_kinds_while_workers_cache_their_blocks() {
    let dir: PathBuf = scratch_dir(&std::env::temp_dir(), "morselkind-stress");
    let fds_start = fd_count();
    let stop = Arc::new(AtomicBool::new(false));

    let own: Vec<Kind> = (0..WORKERS).map(|_| Kind::pmem(&PmemConfig::new(&dir)).unwrap()).collect();
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for (id, &kind) in own.iter().enumerate() {
        let (tx, rx) = channel::<Batch>();
        senders.push(tx);
        let stop = stop.clone();
        handles.push(std::thread::spawn(move || worker(id, kind, rx, stop)));
    }

    let rounds_done = Arc::new(AtomicUsize::new(0));
    let churn = {
        let dir = dir.clone();
        let rounds_done = rounds_done.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + CHURN_TIME;
            let mut rng = Rng(0xdead_beef_cafe_f00d);
            let mut index = None;
            let mut handed = 0;
            let mut times = [Duration::ZERO; 3];
            for round in 0..ROUNDS {
                if Instant::now() >= deadline {
                    break;
                }
                let t0 = Instant::now();
                let max_size = if round % 2 == 0 { None } else { Some(64 << 20) };
                let k = Kind::pmem(&PmemConfig { max_size, ..PmemConfig::new(&dir) }).unwrap();
                // Every round's K takes the entry the last one freed.
                assert_eq!(*index.get_or_insert(k.index()), k.index(), "round {round}");
                let mut blocks: Vec<Block> = (0..BLOCKS)
                    .map(|i| {
                        let size = rng.size();
                        let p = k.malloc(size).unwrap_or_else(|e| panic!("round {round} block {i}: {e:?}"));
                        Block::new(p, size, (round ^ i) as u8)
                    })
                    .collect();
                let t1 = Instant::now();
                let given: Vec<Block> = blocks.drain(..BLOCKS / 2).collect();
                let (done_tx, done_rx) = channel();
                for (w, chunk) in given.chunks(given.len().div_ceil(WORKERS)).enumerate() {
                    handed += chunk.len();
                    senders[w]
                        .send(Batch { kind: k, blocks: chunk.to_vec(), done: done_tx.clone() })
                        .unwrap();
                }
                drop(done_tx);
                // Keep using K while the workers free into their caches for it.
                let mut acks = 0;
                while acks < WORKERS {
                    let p = k.malloc(1 + rng.below(8192)).unwrap();
                    let qsize = 1 + rng.below(100_000);
                    let q = k.calloc(1, qsize).unwrap();
                    // SAFETY: a fresh block of `qsize` bytes.
                    let zeroed = unsafe { std::slice::from_raw_parts(q.as_ptr(), qsize) };
                    assert!(zeroed.iter().all(|&b| b == 0), "round {round}: calloc({qsize}) not zeroed");
                    // SAFETY: fresh blocks of K.
                    unsafe {
                        k.free(p);
                        k.free(q);
                    }
                    match done_rx.recv_timeout(Duration::from_micros(200)) {
                        Ok(_) => acks += 1,
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => panic!("a worker died in round {round}"),
                    }
                }
                for b in &blocks {
                    b.check("the churn thread's half");
                }
                let t2 = Instant::now();
                // Right up to the destroy, with half the blocks still allocated.
                let last = k.malloc(100).unwrap();
                // SAFETY: a fresh block of K.
                unsafe { k.free(last) };
                // SAFETY: the workers are done with K (they acknowledged); no pointer of K is
                // used after this.
                unsafe { k.destroy().unwrap() };
                assert!(!k.is_live());
                let t3 = Instant::now();
                times[0] += t1 - t0;
                times[1] += t2 - t1;
                times[2] += t3 - t2;
                assert_eq!(Kind::detect(blocks[0].ptr as *const u8), None, "round {round}");
                rounds_done.fetch_add(1, Ordering::Relaxed);
            }
            eprintln!("churn: create+fill {:?}, hand over {:?}, destroy {:?}", times[0], times[1], times[2]);
            handed
        })
    };

    let handed = churn.join().expect("the churn thread");
    stop.store(true, Ordering::Release);
    let reports: Vec<WorkerReport> =
        handles.into_iter().map(|h| h.join().expect("a worker crashed")).collect();
    let rounds = rounds_done.load(Ordering::Relaxed);
    eprintln!("{rounds} rounds, {handed} blocks handed over, workers: {reports:?}");
    assert!(rounds >= MIN_ROUNDS, "only {rounds} rounds ran");
    assert_eq!(reports.iter().map(|r| r.batches).sum::<usize>(), rounds * WORKERS);
    assert_eq!(reports.iter().map(|r| r.freed).sum::<usize>(), handed);
    assert!(reports.iter().all(|r| r.steps > 100), "a worker starved: {reports:?}");

    // Every worker kind and DEFAULT still serve, from this thread and from fresh threads.
    let check_serves = |kind: Kind, seed: u64| {
        let mut rng = Rng(seed);
        let blocks: Vec<Block> = (0..2000)
            .map(|i| {
                let size = rng.size();
                Block::new(kind.malloc(size).unwrap(), size, i as u8)
            })
            .collect();
        for b in &blocks {
            b.check("after the run");
            assert_eq!(Kind::detect(b.ptr as *const u8), Some(kind));
        }
        let mut spans: Vec<(usize, usize)> = blocks.iter().map(|b| (b.ptr, b.ptr + b.size)).collect();
        spans.sort_unstable();
        assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "blocks overlap after the run");
        for b in &blocks {
            // SAFETY: live blocks of `kind`.
            unsafe { kind.free(b.nn()) };
        }
    };
    for (i, &k) in own.iter().chain([Kind::DEFAULT].iter()).enumerate() {
        assert!(k.is_live());
        check_serves(k, 77 + i as u64);
        std::thread::spawn(move || check_serves(k, 1000 + i as u64)).join().unwrap();
    }

    for k in own {
        // SAFETY: every block of the worker kinds was freed; nothing uses them.
        unsafe { k.destroy().unwrap() };
    }
    assert_eq!(fd_count(), fds_start, "fds left open");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "left in {}: {left:?}", dir.display());
    std::fs::remove_dir(&dir).unwrap();
}
