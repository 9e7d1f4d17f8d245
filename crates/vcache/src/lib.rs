//! vcache: a volatile key-value cache in one pool of file-backed (or memfd) memory, the design of
//! libvmemcache on morsels. Values live in the pool, cut into extents of a fixed size and
//! scattered over free runs where no contiguous run holds them (so a put never fails while the
//! free space adds up to the value); keys, the index and the LRU list live in DRAM.
//!
//! Placement: a value takes the best-fitting free run. Where none holds it, a put under LRU
//! evicts the least recently used entry together with the entries that follow it in the pool
//! (up to `SPAN_LIMIT` of them) until one contiguous span holds the value, so values stay
//! whole once the pool is full (a scattered value is read at about half the speed of a whole
//! one, and leaves scattered holes when it goes). What a span leaves over is a hole that later
//! values fit into; once holes add up to more than 1/`SLACK_DIVISOR` of the pool, puts are
//! scattered over them instead, which bounds the space they hold.
//!
//! Concurrency: the index is sharded, each shard under a short lock of its own; a hit records
//! its use in a lock-free ring in front of the LRU list, which is locked (with the heap) only
//! when the ring is full, by puts and at eviction. Values are copied in and out with no lock
//! held. A reader holds a reference to its entry, so an entry evicted
//! meanwhile keeps its extents until the last reader lets go.
//!
//! This crate never unwinds into callers' callbacks' frames on purpose and holds no lock while a
//! callback runs: callbacks may call back into the cache.
#![deny(unsafe_code)]

mod heap;
#[allow(unsafe_code)]
mod pool;

use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

pub use heap::Run;
use heap::{Heap, Runs};
pub use morsel::Errno;
use pool::Pool;

/// The smallest pool (libvmemcache's VMEMCACHE_MIN_POOL).
pub const MIN_POOL: usize = 1 << 20;
/// The smallest extent (VMEMCACHE_MIN_EXTENT).
pub const MIN_EXTENT: usize = 256;
/// The default extent size.
pub const DEFAULT_EXTENT: usize = 256;

/// What a put into a full cache does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Nothing: the put fails (entries leave only by `evict`).
    None,
    /// The least recently used entries are evicted until the value fits.
    Lru,
}

/// The statistics, in libvmemcache's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Stat {
    /// Successful puts.
    Put,
    /// Gets.
    Get,
    /// Gets served from the cache.
    Hit,
    /// Gets that found no entry.
    Miss,
    /// Entries evicted (by policy or on request).
    Evict,
    /// Entries now.
    Entries,
    /// DRAM used for keys and entries, in bytes.
    DramSizeUsed,
    /// Pool bytes holding values (whole extents).
    PoolSizeUsed,
    /// Discontiguous free regions of the pool.
    HeapEntries,
}

impl Stat {
    /// Every statistic, in order.
    pub const ALL: [Stat; 9] = [
        Stat::Put,
        Stat::Get,
        Stat::Hit,
        Stat::Miss,
        Stat::Evict,
        Stat::Entries,
        Stat::DramSizeUsed,
        Stat::PoolSizeUsed,
        Stat::HeapEntries,
    ];
}

/// Why a call failed. `errno()` and `message()` give libvmemcache's answer for the C boundary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A parameter makes no sense (EINVAL).
    Invalid(String),
    /// No entry for the key (ENOENT).
    NoEntry,
    /// The key is already there (EEXIST).
    Exists,
    /// The value cannot be placed (ENOSPC): larger than the pool, or the pool is full and the
    /// policy does not evict, or the filesystem is full.
    NoSpace(String),
    /// Nothing to evict (ESRCH).
    NoVictim,
    /// The entry is being evicted by another caller (EAGAIN).
    Busy,
    /// The system refused (its errno).
    Sys(&'static str, Errno),
}

impl Error {
    /// The errno libvmemcache sets for this error.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Invalid(_) => libc::EINVAL,
            Error::NoEntry => libc::ENOENT,
            Error::Exists => libc::EEXIST,
            Error::NoSpace(_) => libc::ENOSPC,
            Error::NoVictim => libc::ESRCH,
            Error::Busy => libc::EAGAIN,
            Error::Sys(_, e) => e.0,
        }
    }

    /// A human-friendly description.
    pub fn message(&self) -> String {
        match self {
            Error::Invalid(m) | Error::NoSpace(m) => m.clone(),
            Error::NoEntry => "cannot find an element with the given key".into(),
            Error::Exists => "inserting to the index failed: the key exists".into(),
            Error::NoVictim => "no element to evict".into(),
            Error::Busy => "the entry is being evicted, try again".into(),
            Error::Sys(what, e) => format!("{what}: {}", std::io::Error::from_raw_os_error(e.0)),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Error {}

/// A hook called with the cache and a key: on eviction (before the entry goes) or on a miss.
pub type Callback = Arc<dyn Fn(&Cache, &[u8]) + Send + Sync>;

/// Builds a cache: pool size, extent size, policy, then `build` maps the pool.
#[derive(Clone, Debug)]
pub struct Builder {
    size: usize,
    extent: usize,
    policy: Policy,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A 1 MiB pool of 256-byte extents, evicting LRU (libvmemcache's defaults).
    pub fn new() -> Builder {
        Builder { size: MIN_POOL, extent: DEFAULT_EXTENT, policy: Policy::Lru }
    }

    /// The pool size, rounded up to whole pages; at least [`MIN_POOL`].
    pub fn size(&mut self, size: usize) -> Result<&mut Builder, Error> {
        if size < MIN_POOL {
            return Err(Error::Invalid(format!("size {size} smaller than {MIN_POOL}")));
        }
        self.size = size
            .checked_next_multiple_of(morsel::PAGE_SIZE)
            .ok_or_else(|| Error::Invalid(format!("size {size} too large")))?;
        Ok(self)
    }

    /// The extent size: at least [`MIN_EXTENT`]; no larger than the pool when it is built.
    pub fn extent_size(&mut self, extent: usize) -> Result<&mut Builder, Error> {
        if extent < MIN_EXTENT {
            return Err(Error::Invalid(format!("extent size {extent} smaller than {MIN_EXTENT} bytes")));
        }
        self.extent = extent;
        Ok(self)
    }

    /// What a put into a full cache does.
    pub fn policy(&mut self, policy: Policy) -> &mut Builder {
        self.policy = policy;
        self
    }

    /// Maps a pool in an unnamed file in `dir` (gone when the cache is, or at exit).
    pub fn build_in(&self, dir: &Path) -> Result<Cache, Error> {
        self.build(Some(dir))
    }

    /// Maps a pool in a memfd.
    pub fn build_memfd(&self) -> Result<Cache, Error> {
        self.build(None)
    }

    fn build(&self, dir: Option<&Path>) -> Result<Cache, Error> {
        if self.extent > self.size {
            return Err(Error::Invalid(format!(
                "extent size {} larger than the pool ({})",
                self.extent, self.size
            )));
        }
        if let Some(d) = dir {
            let meta = std::fs::metadata(d)
                .map_err(|e| Error::Sys("open", Errno(e.raw_os_error().unwrap_or(libc::EINVAL))))?;
            if !meta.is_dir() {
                return Err(Error::Sys("open", Errno(libc::ENOTDIR)));
            }
        }
        let pool = Pool::new(dir, self.size).map_err(|e| Error::Sys("creating the pool", e))?;
        let units = (self.size / self.extent) as u64;
        let step = (morsel::GRANULE_SIZE / self.extent).max(1) as u64;
        Ok(Cache::new(pool, dir.map(Path::to_path_buf), self.extent, self.policy, Heap::new(units, step)))
    }
}

const NIL: u32 = u32::MAX;

/// Free units (as a fraction of the pool: 1/1024) that may sit in holes before a put takes
/// them, scattered, rather than evicting a span that holds its value whole. Holes are what a
/// span left over; a larger slack keeps more values whole and the pool less full.
const SLACK_DIVISOR: u64 = 1024;

/// The most neighbours a put evicts with the least recently used entry to make one span.
const SPAN_LIMIT: usize = 16;

/// Index shards: a get locks only its key's shard, so gets on different keys do not contend.
const SHARDS: usize = 16;

/// Keys up to this length live in their entry (no allocation, no pointer to follow).
const INLINE_KEY: usize = 22;

/// A key, stored inline when short.
enum Key {
    Inline(u8, [u8; INLINE_KEY]),
    Heap(Box<[u8]>),
}

impl Key {
    fn new(key: &[u8]) -> Key {
        if key.len() <= INLINE_KEY {
            let mut bytes = [0; INLINE_KEY];
            bytes[..key.len()].copy_from_slice(key);
            Key::Inline(key.len() as u8, bytes)
        } else {
            Key::Heap(key.into())
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Key::Inline(n, b) => &b[..*n as usize],
            Key::Heap(b) => b,
        }
    }
}

/// One key:value pair: its key, size and where its bytes are.
struct Entry {
    hash: u64,
    key: Key,
    vsize: usize,
    runs: Runs,
    /// Its slot in the LRU list, and the slot's generation when it took this entry.
    slot: u32,
    gen: u32,
    /// Set by whoever is evicting it, so that each eviction calls the hook once.
    evicting: AtomicBool,
    /// A use of the entry waits in the hit ring (it waits there once at most).
    queued: AtomicBool,
}

/// A slot of the entry table, linked into the LRU list while it holds an entry.
struct Slot {
    entry: Option<Arc<Entry>>,
    prev: u32,
    next: u32,
    /// Bumped each time the slot takes a new entry, so a stale use in the ring is recognised.
    gen: u32,
}

/// One shard of the index, with the get statistics of its keys.
struct Shard {
    table: HashTable<Arc<Entry>>,
    gets: u64,
    hits: u64,
    misses: u64,
}

impl Shard {
    fn find(&self, hash: u64, key: &[u8]) -> Option<&Arc<Entry>> {
        self.table.find(hash, |e| e.hash == hash && e.key.as_slice() == key)
    }
}

/// Keeps what it holds on cache lines of its own (no false sharing between shards).
#[repr(align(128))]
struct Padded<T>(T);

/// Uses of entries since the LRU list was last brought up to date. As in libvmemcache, a hit
/// does not move its entry at once: it records (slot, generation) here without any lock, and
/// the entries used are moved to the front, in the order of their first use, under the LRU
/// lock when the ring is full or when the eviction victim turns out to be one of them.
const RING: usize = 4096;

struct HitRing {
    /// Cells reserved so far; `RING` or more: full (or being drained).
    reserved: Padded<AtomicUsize>,
    /// `(generation << 32) | (slot + 1)`; 0 while reserved but not yet written.
    cells: Box<[AtomicU64]>,
}

impl HitRing {
    fn new() -> HitRing {
        HitRing {
            reserved: Padded(AtomicUsize::new(0)),
            cells: (0..RING).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Records a use; false if the ring is full (the caller drains it and tries again).
    fn push(&self, v: u64) -> bool {
        let i = self.reserved.0.fetch_add(1, Ordering::AcqRel);
        if i >= RING {
            return false;
        }
        self.cells[i].store(v, Ordering::Release);
        true
    }

    /// Hands every recorded use to `f`, oldest first, and empties the ring. Called only under
    /// the LRU lock (one drainer at a time); pushers that find the ring full meanwhile wait for
    /// that lock.
    fn drain(&self, mut f: impl FnMut(u64)) {
        let n = self.reserved.0.swap(RING, Ordering::AcqRel).min(RING);
        for cell in &self.cells[..n] {
            let mut spins = 0u32;
            let v = loop {
                // A pusher between its reservation and its store: a few instructions away
                // unless it was preempted.
                let v = cell.swap(0, Ordering::Acquire);
                if v != 0 {
                    break v;
                }
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            };
            f(v);
        }
        self.reserved.0.store(0, Ordering::Release);
    }
}

/// What the LRU lock guards: the LRU list, the heap and the put/evict statistics.
struct Inner {
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    /// Most recently used.
    head: u32,
    /// Least recently used.
    tail: u32,
    heap: Heap,
    /// First unit of each run of each entry in the LRU list -> (its slot, the run's length).
    owner: HashMap<u64, (u32, u64)>,
    puts: u64,
    evicts: u64,
    dram: u64,
    /// Why the pool stopped growing (a full filesystem), for the error of a failed put.
    commit_error: Option<Errno>,
}

impl Inner {
    fn entry(&self, slot: u32) -> &Arc<Entry> {
        self.slots[slot as usize].entry.as_ref().expect("a linked slot holds an entry")
    }

    fn unlink(&mut self, s: u32) {
        let (prev, next) = (self.slots[s as usize].prev, self.slots[s as usize].next);
        match prev {
            NIL => self.head = next,
            p => self.slots[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n as usize].prev = prev,
        }
    }

    fn push_front(&mut self, s: u32) {
        let old = self.head;
        self.slots[s as usize].prev = NIL;
        self.slots[s as usize].next = old;
        match old {
            NIL => self.tail = s,
            o => self.slots[o as usize].prev = s,
        }
        self.head = s;
    }

    fn touch(&mut self, s: u32) {
        if self.head != s {
            self.unlink(s);
            self.push_front(s);
        }
    }

    /// Moves the entries used since the last call to the front of the LRU list, in order.
    fn apply_pending(&mut self, ring: &HitRing) {
        ring.drain(|v| {
            let (s, gen) = ((v as u32).wrapping_sub(1), (v >> 32) as u32);
            let slot = &self.slots[s as usize];
            if slot.gen == gen {
                if let Some(e) = &slot.entry {
                    e.queued.store(false, Ordering::Relaxed);
                    self.touch(s);
                }
            }
        });
    }

    /// The least recently used entry nobody is evicting yet, marked as being evicted. As in
    /// libvmemcache, the waiting uses are applied only when the least recently used entry is
    /// one of them (then it is not the victim after all).
    fn pick_victim(&mut self, ring: &HitRing) -> Option<Arc<Entry>> {
        if self.tail != NIL && self.entry(self.tail).queued.load(Ordering::Relaxed) {
            self.apply_pending(ring);
        }
        let mut s = self.tail;
        while s != NIL {
            let e = self.entry(s);
            if !e.evicting.swap(true, Ordering::AcqRel) {
                return Some(e.clone());
            }
            s = self.slots[s as usize].prev;
        }
        None
    }

    /// The least recently used entry and, where its longest run (with the free units around
    /// it) is too short for `units`, the entries that follow that run in the pool, up to
    /// `limit` of them, until the span holds `units`: all marked as being evicted. Empty where
    /// no such span is found (the LRU entry is busy, a neighbour is in use or being evicted,
    /// the span reaches the end of the committed pool): the caller evicts the LRU entry alone
    /// and scatters. Evicting the LRU entry's neighbours in the pool, rather than the next
    /// least recently used entries wherever they lie, is what keeps values whole once the
    /// pool is full: evicting by age alone leaves holes all over the pool, and a value cut to
    /// fit them leaves as many holes when it goes in turn.
    fn pick_span(&mut self, ring: &HitRing, units: u64, limit: usize) -> Vec<Arc<Entry>> {
        if self.tail != NIL && self.entry(self.tail).queued.load(Ordering::Relaxed) {
            self.apply_pending(ring);
        }
        let s = self.tail;
        if s == NIL {
            return Vec::new();
        }
        // Its longest run (its only one, mostly).
        let Some(run) = self.entry(s).runs.as_slice().iter().copied().max_by_key(|r| r.len) else {
            return Vec::new();
        };
        let mut end = self.heap.free_end(run.start + run.len);
        let begin = run.start - self.heap.free_before(run.start);
        let mut chosen = vec![s];
        while end - begin < units {
            if chosen.len() > limit {
                return Vec::new();
            }
            let Some(&(o, len)) = self.owner.get(&end) else { return Vec::new() };
            let e = self.entry(o);
            if e.queued.load(Ordering::Relaxed) || e.evicting.load(Ordering::Relaxed) {
                return Vec::new();
            }
            if !chosen.contains(&o) {
                chosen.push(o);
            }
            end = self.heap.free_end(end + len);
        }
        let mut taken = Vec::with_capacity(chosen.len());
        for &c in &chosen {
            let e = self.entry(c);
            if e.evicting.swap(true, Ordering::AcqRel) {
                taken.iter().for_each(|t: &Arc<Entry>| t.evicting.store(false, Ordering::Release));
                return Vec::new();
            }
            taken.push(e.clone());
        }
        taken
    }

    /// Drops one reference; the last one gives the entry's extents back.
    fn release(&mut self, e: Arc<Entry>) {
        if let Some(e) = Arc::into_inner(e) {
            self.heap.free(e.runs.as_slice());
        }
    }
}

fn entry_dram(key: usize, runs: &Runs) -> u64 {
    let key = if key <= INLINE_KEY { 0 } else { key };
    let runs = match runs {
        Runs::One(_) => 0,
        Runs::Many(r) => std::mem::size_of_val::<[Run]>(r),
    };
    // The entry with its Arc counts, its slot, its pointer in the index (and control byte).
    (2 * 8 + std::mem::size_of::<Entry>() + std::mem::size_of::<Slot>() + 9 + key + runs) as u64
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while a lock is held leaves consistent data behind: every update of the
    // structures is completed before anything that could panic.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A cache. Shared between threads by reference (`&Cache` is all every call takes).
///
/// Locks: a get takes its key's index shard only (and the LRU lock when the hit ring is full);
/// puts and evictions take the LRU lock, then a shard where they need one (never the other
/// way round).
pub struct Cache {
    pool: Pool,
    dir: Option<PathBuf>,
    extent: usize,
    policy: Policy,
    hasher: DefaultHashBuilder,
    shards: Box<[Padded<Mutex<Shard>>]>,
    ring: HitRing,
    inner: Padded<Mutex<Inner>>,
    on_evict: RwLock<Option<Callback>>,
    on_miss: RwLock<Option<Callback>>,
    /// Free units that may sit in holes before puts take them (scattered) in preference to
    /// evicting a victim that makes room for a whole value.
    slack: u64,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("pool", &self.pool)
            .field("dir", &self.dir)
            .field("extent", &self.extent)
            .field("policy", &self.policy)
            .finish()
    }
}

impl Cache {
    /// A builder (libvmemcache's defaults).
    pub fn builder() -> Builder {
        Builder::new()
    }

    fn new(pool: Pool, dir: Option<PathBuf>, extent: usize, policy: Policy, heap: Heap) -> Cache {
        let units = (pool.size() / extent) as u64;
        let shard = || Padded(Mutex::new(Shard { table: HashTable::new(), gets: 0, hits: 0, misses: 0 }));
        Cache {
            pool,
            dir,
            extent,
            policy,
            hasher: DefaultHashBuilder::default(),
            shards: (0..SHARDS).map(|_| shard()).collect(),
            ring: HitRing::new(),
            inner: Padded(Mutex::new(Inner {
                slots: Vec::new(),
                free_slots: Vec::new(),
                head: NIL,
                tail: NIL,
                heap,
                owner: HashMap::default(),
                puts: 0,
                evicts: 0,
                dram: 0,
                commit_error: None,
            })),
            on_evict: RwLock::new(None),
            on_miss: RwLock::new(None),
            slack: units / SLACK_DIVISOR,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner.0)
    }

    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        // Bits the index's tables use for neither their buckets (the low ones) nor their tags
        // (the top seven).
        lock(&self.shards[(hash >> 40) as usize % SHARDS].0)
    }

    /// Pool bytes usable for values.
    pub fn pool_size(&self) -> usize {
        self.pool.size()
    }

    /// The extent size.
    pub fn extent_size(&self) -> usize {
        self.extent
    }

    /// The eviction policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Where the pool lives: an unnamed file, or a memfd.
    pub fn backing(&self) -> morsel::Backing {
        self.pool.backing()
    }

    /// Bytes of file blocks the pool holds now.
    pub fn file_bytes(&self) -> u64 {
        self.pool.file_bytes()
    }

    /// Sets (or clears) the hook called before an entry is evicted.
    pub fn on_evict(&self, hook: Option<Callback>) {
        *self.on_evict.write().unwrap_or_else(|p| p.into_inner()) = hook;
    }

    /// Sets (or clears) the hook called when a get misses; it may put the key.
    pub fn on_miss(&self, hook: Option<Callback>) {
        *self.on_miss.write().unwrap_or_else(|p| p.into_inner()) = hook;
    }

    /// Stores `value` under `key`. `Exists` if the key is there; `NoSpace` if the value is larger
    /// than the pool, or cannot be placed without evicting under `Policy::None`.
    #[allow(unsafe_code)] // copies into extents this call owns
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        if value.len() > self.pool.size() {
            return Err(Error::NoSpace("value larger than entire cache".into()));
        }
        let units = value.len().div_ceil(self.extent) as u64;
        let hash = self.hasher.hash_one(key);
        let runs = self.take_space(hash, key, units)?;
        let mut at = 0;
        for r in runs.as_slice() {
            let off = r.start as usize * self.extent;
            let n = (r.len as usize * self.extent).min(value.len() - at);
            // SAFETY: the runs were just taken from the heap for this value alone, lie in the
            // pool and were committed before the heap handed them out.
            unsafe { self.pool.write(off, &value[at..at + n]) };
            at += n;
        }
        let mut g = self.lock();
        let mut sh = self.shard(hash);
        if sh.find(hash, key).is_some() {
            drop(sh);
            g.heap.free(runs.as_slice());
            return Err(Error::Exists);
        }
        let slot = match g.free_slots.pop() {
            Some(s) => s,
            None => {
                g.slots.push(Slot { entry: None, prev: NIL, next: NIL, gen: 0 });
                (g.slots.len() - 1) as u32
            }
        };
        g.dram += entry_dram(key.len(), &runs);
        let gen = g.slots[slot as usize].gen.wrapping_add(1);
        let entry = Arc::new(Entry {
            hash,
            key: Key::new(key),
            vsize: value.len(),
            runs,
            slot,
            gen,
            evicting: AtomicBool::new(false),
            queued: AtomicBool::new(false),
        });
        g.slots[slot as usize].entry = Some(entry.clone());
        g.slots[slot as usize].gen = gen;
        for r in entry.runs.as_slice() {
            g.owner.insert(r.start, (slot, r.len));
        }
        g.push_front(slot);
        sh.table.insert_unique(hash, entry, |e| e.hash);
        g.puts += 1;
        Ok(())
    }

    /// Takes `units` of the pool for a new value of `key`, evicting under LRU until they fit.
    fn take_space(&self, hash: u64, key: &[u8], units: u64) -> Result<Runs, Error> {
        if units == 0 {
            return Ok(Runs::Many(Box::new([])));
        }
        let mut looked = false;
        loop {
            // Checked again after each eviction: the hook may have put the key.
            if self.shard(hash).find(hash, key).is_some() {
                return Err(Error::Exists);
            }
            let victim = {
                let mut g = self.lock();
                let Inner { heap, commit_error, .. } = &mut *g;
                let mut commit = |first: u64, count: u64| {
                    let r = self.pool.commit(first as usize * self.extent, count as usize * self.extent);
                    r.map_err(|e| *commit_error = Some(e)).is_ok()
                };
                if let Some(run) = heap.alloc_whole(units, &mut commit) {
                    return Ok(Runs::One(run));
                }
                // Scattered over the free runs: under NONE always, under LRU once the holes add
                // up to more than the slack (so they never sit idle long), or once no victim
                // near the end of the LRU list frees a run that holds the value whole.
                let free = heap.free_committed();
                if self.policy == Policy::None || (free >= units && (looked || free > self.slack)) {
                    if let Some(runs) = heap.scatter(units) {
                        return Ok(runs);
                    }
                }
                let full = |commit_error: Option<Errno>| match commit_error {
                    Some(e) => Error::Sys("allocating pool blocks", e),
                    None => Error::NoSpace("not enough space in the pool".into()),
                };
                if self.policy == Policy::None {
                    return Err(full(g.commit_error));
                }
                let span = if looked { Vec::new() } else { g.pick_span(&self.ring, units, SPAN_LIMIT) };
                looked = true;
                if !span.is_empty() {
                    span
                } else {
                    match g.pick_victim(&self.ring) {
                        Some(v) => vec![v],
                        None if g.heap.available() >= units => continue, // readers hold evicted extents
                        None => return Err(full(g.commit_error)),
                    }
                }
            };
            for v in victim {
                self.evict_entry(v);
            }
        }
    }

    /// Calls the eviction hook for an entry marked as being evicted, then removes it.
    fn evict_entry(&self, e: Arc<Entry>) -> bool {
        let hook = self.on_evict.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(hook) = hook {
            hook(self, e.key.as_slice());
        }
        let mut g = self.lock();
        let s = e.slot;
        let here = g.slots[s as usize].entry.as_ref().is_some_and(|x| Arc::ptr_eq(x, &e));
        if here {
            if let Ok(found) = self.shard(e.hash).table.find_entry(e.hash, |x| Arc::ptr_eq(x, &e)) {
                found.remove();
            }
            g.unlink(s);
            let held = g.slots[s as usize].entry.take().expect("checked above");
            for r in held.runs.as_slice() {
                g.owner.remove(&r.start);
            }
            g.free_slots.push(s);
            g.dram -= entry_dram(held.key.as_slice().len(), &held.runs);
            g.evicts += 1;
            g.release(held);
        }
        g.release(e);
        here
    }

    /// Records a use of `e` for the LRU list (in the hit ring, without a lock while it has room).
    fn used(&self, e: &Entry) {
        if e.queued.load(Ordering::Relaxed) || e.queued.swap(true, Ordering::Relaxed) {
            return;
        }
        let v = (u64::from(e.gen) << 32) | u64::from(e.slot.wrapping_add(1));
        while !self.ring.push(v) {
            self.lock().apply_pending(&self.ring);
        }
    }

    /// Copies the value of `key`, from byte `offset` on, into `buf`: returns the bytes copied
    /// and the value's full size. On a miss the miss hook runs, and if it put the key its value
    /// is returned.
    pub fn get(&self, key: &[u8], buf: &mut [u8], offset: usize) -> Result<(usize, usize), Error> {
        let hash = self.hasher.hash_one(key);
        let found = {
            let mut sh = self.shard(hash);
            sh.gets += 1;
            match sh.find(hash, key).cloned() {
                Some(e) => {
                    sh.hits += 1;
                    Some(e)
                }
                None => {
                    sh.misses += 1;
                    None
                }
            }
        };
        let e = match found {
            Some(e) => {
                if self.policy == Policy::Lru {
                    self.used(&e);
                }
                e
            }
            None => {
                let hook = self.on_miss.read().unwrap_or_else(|p| p.into_inner()).clone();
                let Some(hook) = hook else { return Err(Error::NoEntry) };
                hook(self, key);
                let found = self.shard(hash).find(hash, key).cloned();
                found.ok_or(Error::NoEntry)?
            }
        };
        let copied = self.read_value(&e, buf, offset);
        let vsize = e.vsize;
        self.drop_ref(e);
        Ok((copied, vsize))
    }

    #[allow(unsafe_code)] // copies out of extents a held entry keeps allocated
    fn read_value(&self, e: &Entry, buf: &mut [u8], offset: usize) -> usize {
        if offset >= e.vsize {
            return 0;
        }
        let want = buf.len().min(e.vsize - offset);
        // Every page to be read asked for first, then copied: the pieces of a scattered value lie
        // anywhere in the pool, each a cold start for the copy.
        for (at, range) in self.pieces(e, offset, want) {
            self.pool.prefetch(at, range.len());
        }
        let mut copied = 0;
        for (at, range) in self.pieces(e, offset, want) {
            copied += range.len();
            // SAFETY: the runs belong to `e`, which the caller holds a reference to, so they stay
            // allocated and unwritten; the piece lies inside one run of the pool.
            unsafe { self.pool.read(at, &mut buf[range]) };
        }
        copied
    }

    /// The pieces of `want` bytes of `e`'s value from byte `offset` (at most its size): for each
    /// run it touches, the pool offset to copy from and the range of the caller's buffer it fills.
    fn pieces<'a>(
        &self,
        e: &'a Entry,
        offset: usize,
        want: usize,
    ) -> impl Iterator<Item = (usize, std::ops::Range<usize>)> + 'a {
        let extent = self.extent;
        let (mut skip, mut done) = (offset, 0);
        e.runs
            .as_slice()
            .iter()
            .map_while(move |r| {
                if done == want {
                    return None;
                }
                let bytes = r.len as usize * extent;
                if skip >= bytes {
                    skip -= bytes;
                    return Some(None);
                }
                let n = (bytes - skip).min(want - done);
                let piece = (r.start as usize * extent + skip, done..done + n);
                done += n;
                skip = 0;
                Some(Some(piece))
            })
            .flatten()
    }

    fn drop_ref(&self, e: Arc<Entry>) {
        // Only the last holder of an evicted entry (the index's reference is gone) needs the
        // lock; `into_inner` makes exactly one of racing holders the last.
        if let Some(e) = Arc::into_inner(e) {
            self.lock().heap.free(e.runs.as_slice());
        }
    }

    /// The size of the value of `key`, if present; touches neither the LRU order nor the stats.
    pub fn exists(&self, key: &[u8]) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        self.shard(hash).find(hash, key).map(|e| e.vsize)
    }

    /// Evicts `key`, or with `None` the least recently used entry (`NoVictim` under
    /// `Policy::None` or when the cache is empty). The eviction hook runs first.
    pub fn evict(&self, key: Option<&[u8]>) -> Result<(), Error> {
        let victim = match key {
            Some(key) => {
                let hash = self.hasher.hash_one(key);
                let sh = self.shard(hash);
                let e = sh.find(hash, key).ok_or(Error::NoEntry)?;
                if e.evicting.swap(true, Ordering::AcqRel) {
                    return Err(Error::Busy);
                }
                e.clone()
            }
            None if self.policy == Policy::None => return Err(Error::NoVictim),
            None => self.lock().pick_victim(&self.ring).ok_or(Error::NoVictim)?,
        };
        self.evict_entry(victim);
        Ok(())
    }

    /// One statistic.
    pub fn stat(&self, stat: Stat) -> u64 {
        self.stats()[stat as usize]
    }

    /// Every statistic at one instant, in [`Stat::ALL`]'s order.
    pub fn stats(&self) -> [u64; 9] {
        let g = self.lock();
        let (mut gets, mut hits, mut misses, mut entries) = (0, 0, 0, 0);
        for s in self.shards.iter() {
            let s = lock(&s.0);
            gets += s.gets;
            hits += s.hits;
            misses += s.misses;
            entries += s.table.len() as u64;
        }
        [
            g.puts,
            gets,
            hits,
            misses,
            g.evicts,
            entries,
            g.dram,
            g.heap.used() * self.extent as u64,
            g.heap.entries(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    /// Once an LRU pool is full, puts of random sizes keep most values whole (the LRU entry is
    /// evicted with its neighbours in the pool) and the holes small, every value reads back
    /// and the evictions are the hook's calls.
    #[test]
    fn full_pool_keeps_values_whole() {
        let cache = Cache::builder().size(8 << 20).unwrap().policy(Policy::Lru).build_memfd().unwrap();
        let hooked = Arc::new(AtomicU64::new(0));
        let h = hooked.clone();
        cache.on_evict(Some(Arc::new(move |_: &Cache, _: &[u8]| {
            h.fetch_add(1, Ordering::Relaxed);
        })));
        let value = |k: u64| -> Vec<u8> {
            let n = 256 + (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize % ((64 << 10) - 256);
            (0..n).map(|i| (k as usize * 7 + i) as u8).collect()
        };
        let mut buf = vec![0u8; 64 << 10];
        for k in 0..4000u64 {
            cache.put(&k.to_le_bytes(), &value(k)).unwrap();
            let (n, size) = cache.get(&k.to_le_bytes(), &mut buf, 0).unwrap();
            assert!(n == size && buf[..n] == value(k)[..], "key {k}: {n} of {size} bytes, or wrong ones");
        }
        let st = cache.stats();
        assert_eq!(st[Stat::Evict as usize], hooked.load(Ordering::Relaxed));
        assert_eq!(st[Stat::Entries as usize], 4000 - st[Stat::Evict as usize]);
        let g = cache.lock();
        let (mut entries, mut whole) = (0, 0);
        for slot in &g.slots {
            if let Some(e) = &slot.entry {
                entries += 1;
                whole += usize::from(e.runs.as_slice().len() == 1);
            }
        }
        assert!(whole * 10 >= entries * 6, "{whole} of {entries} values whole");
        let units = (cache.pool_size() / cache.extent_size()) as u64;
        assert!(g.heap.free_committed() <= units / 50, "{} units in holes", g.heap.free_committed());
    }

    /// Threads getting, putting and evicting the same keys of a small pool that keeps evicting:
    /// every hit returns the bytes its key is always put with, the hook is called once per
    /// eviction, and the statistics add up (the hit ring, the shards and the LRU lock together).
    #[test]
    fn threads_share_a_full_pool() {
        let cache = Cache::builder().size(2 << 20).unwrap().policy(Policy::Lru).build_memfd().unwrap();
        let hooked = Arc::new(AtomicU64::new(0));
        let h = hooked.clone();
        cache.on_evict(Some(Arc::new(move |_: &Cache, _: &[u8]| {
            h.fetch_add(1, Ordering::Relaxed);
        })));
        let value = |k: u64| -> Vec<u8> {
            let n = 100 + (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize % 20_000;
            (0..n).map(|i| (k as usize * 31 + i) as u8).collect()
        };
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (cache, value) = (&cache, &value);
                s.spawn(move || {
                    let mut x = 0x1234_5678_9abc_def1u64 ^ (t << 32);
                    let mut buf = vec![0u8; 32 << 10];
                    for i in 0..20_000u64 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let k = x % 400;
                        let key = k.to_le_bytes();
                        match cache.get(&key, &mut buf, 0) {
                            Ok((n, size)) => {
                                let v = value(k);
                                assert_eq!(size, v.len());
                                assert_eq!(&buf[..n], &v[..n], "key {k}");
                            }
                            Err(Error::NoEntry) => match cache.put(&key, &value(k)) {
                                Ok(()) | Err(Error::Exists) => {}
                                Err(e) => panic!("put of key {k}: {e}"),
                            },
                            Err(e) => panic!("get of key {k}: {e}"),
                        }
                        if i % 97 == 0 {
                            let _ = cache.evict(if i % 2 == 0 { Some(&key[..]) } else { None });
                        }
                    }
                });
            }
        });
        let st = cache.stats();
        assert!(st[Stat::Evict as usize] > 0, "the pool never filled");
        assert_eq!(st[Stat::Evict as usize], hooked.load(Ordering::Relaxed));
        assert_eq!(st[Stat::Hit as usize] + st[Stat::Miss as usize], st[Stat::Get as usize]);
        assert_eq!(st[Stat::Entries as usize], st[Stat::Put as usize] - st[Stat::Evict as usize]);
        assert!(st[Stat::PoolSizeUsed as usize] <= cache.pool_size() as u64);
        // Everything evicted, one by one, in LRU order: the pool is empty again.
        while cache.evict(None).is_ok() {}
        let st = cache.stats();
        assert_eq!((st[Stat::Entries as usize], st[Stat::PoolSizeUsed as usize]), (0, 0));
    }
}
