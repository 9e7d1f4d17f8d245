//! vcache: a volatile key-value cache in one pool of file-backed (or memfd) memory, the design of
//! libvmemcache on morsels. Values live in the pool, cut into extents of a fixed size and
//! scattered over free runs where no contiguous run holds them (so a put never fails while the
//! free space adds up to the value); keys, the index and the LRU list live in DRAM.
//!
//! Concurrency: one short lock guards the index, the LRU list and the heap; values are copied in
//! and out with it released. A reader holds a reference to its entry, so an entry evicted
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use hashbrown::{DefaultHashBuilder, HashTable};

use heap::Heap;
pub use heap::Run;
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
        Ok(Cache {
            pool,
            dir: dir.map(Path::to_path_buf),
            extent: self.extent,
            policy: self.policy,
            hasher: DefaultHashBuilder::default(),
            inner: Mutex::new(Inner {
                table: HashTable::new(),
                slots: Vec::new(),
                free_slots: Vec::new(),
                pending: Vec::with_capacity(PENDING),
                head: NIL,
                tail: NIL,
                heap: Heap::new(units, step),
                stats: [0; 5],
                dram: 0,
                commit_error: None,
            }),
            on_evict: RwLock::new(None),
            on_miss: RwLock::new(None),
        })
    }
}

const NIL: u32 = u32::MAX;

/// One key:value pair: its key, size and where its bytes are.
struct Entry {
    key: Box<[u8]>,
    vsize: usize,
    runs: Box<[Run]>,
    slot: u32,
    /// Set by whoever is evicting it, so that each eviction calls the hook once.
    evicting: AtomicBool,
}

/// A slot of the entry table, linked into the LRU list while it holds an entry.
struct Slot {
    entry: Option<Arc<Entry>>,
    prev: u32,
    next: u32,
    /// Bumped each time the slot takes a new entry, so a stale pending use is recognised.
    gen: u32,
    /// A use of the entry waits in `Inner::pending` (an entry waits there once at most).
    pending: bool,
}

/// Entries used since the LRU list was last brought up to date. As in libvmemcache, a hit does
/// not move its entry at once: the entries used are moved to the front, in the order of their
/// first use, when the eviction victim turns out to be one of them or when this many wait, so
/// a hit costs a push.
const PENDING: usize = 4096;

/// Everything the lock guards.
struct Inner {
    /// The index: slot numbers, hashed by their entries' keys.
    table: HashTable<u32>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    /// Hits not yet applied to the LRU list: (slot, generation).
    pending: Vec<(u32, u32)>,
    /// Most recently used.
    head: u32,
    /// Least recently used.
    tail: u32,
    heap: Heap,
    /// Put, Get, Hit, Miss, Evict.
    stats: [u64; 5],
    dram: u64,
    /// Why the pool stopped growing (a full filesystem), for the error of a failed put.
    commit_error: Option<Errno>,
}

impl Inner {
    fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        let slots = &self.slots;
        self.table.find(hash, |&s| slots[s as usize].entry.as_ref().is_some_and(|e| &*e.key == key)).copied()
    }

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

    /// Records a hit on slot `s`; applies the waiting ones first if the buffer is full.
    fn used(&mut self, s: u32) {
        if self.slots[s as usize].pending {
            return;
        }
        if self.pending.len() == PENDING {
            self.apply_pending();
        }
        let slot = &mut self.slots[s as usize];
        slot.pending = true;
        let gen = slot.gen;
        self.pending.push((s, gen));
    }

    /// Moves the entries used since the last call to the front of the LRU list, in order.
    fn apply_pending(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for &(s, gen) in &pending {
            let slot = &mut self.slots[s as usize];
            if slot.gen == gen && slot.entry.is_some() {
                slot.pending = false;
                self.touch(s);
            }
        }
        self.pending = pending;
        self.pending.clear();
    }

    /// The least recently used entry nobody is evicting yet, marked as being evicted. As in
    /// libvmemcache, the waiting uses are applied only when the least recently used entry is
    /// one of them (then it is not the victim after all).
    fn pick_victim(&mut self) -> Option<Arc<Entry>> {
        if self.tail != NIL && self.slots[self.tail as usize].pending {
            self.apply_pending();
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

    /// Drops one reference; the last one gives the entry's extents back.
    fn release(&mut self, e: Arc<Entry>) {
        if let Some(e) = Arc::into_inner(e) {
            self.heap.free(&e.runs);
        }
    }

    /// Takes the entry out of the index and the LRU list, if it is still there.
    fn remove(&mut self, hasher: &DefaultHashBuilder, e: &Arc<Entry>) -> bool {
        let s = e.slot;
        let here = self.slots[s as usize].entry.as_ref().is_some_and(|x| Arc::ptr_eq(x, e));
        if !here {
            return false;
        }
        let hash = hasher.hash_one(&*e.key);
        if let Ok(found) = self.table.find_entry(hash, |&x| x == s) {
            found.remove();
        }
        self.unlink(s);
        let held = self.slots[s as usize].entry.take().expect("checked above");
        self.free_slots.push(s);
        self.dram -= entry_dram(held.key.len(), held.runs.len());
        self.stats[Stat::Evict as usize] += 1;
        self.release(held);
        true
    }
}

fn entry_dram(key: usize, runs: usize) -> u64 {
    (std::mem::size_of::<Entry>()
        + std::mem::size_of::<Slot>()
        + 16
        + key
        + runs * std::mem::size_of::<Run>()) as u64
}

/// A cache. Shared between threads by reference (`&Cache` is all every call takes).
pub struct Cache {
    pool: Pool,
    dir: Option<PathBuf>,
    extent: usize,
    policy: Policy,
    hasher: DefaultHashBuilder,
    inner: Mutex<Inner>,
    on_evict: RwLock<Option<Callback>>,
    on_miss: RwLock<Option<Callback>>,
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

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while the lock is held leaves consistent data behind: every update of the
        // structures is completed before anything that could panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
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
        for r in &runs {
            let off = r.start as usize * self.extent;
            let n = (r.len as usize * self.extent).min(value.len() - at);
            // SAFETY: the runs were just taken from the heap for this value alone, lie in the
            // pool and were committed before the heap handed them out.
            unsafe { self.pool.write(off, &value[at..at + n]) };
            at += n;
        }
        let mut g = self.lock();
        if g.find(hash, key).is_some() {
            g.heap.free(&runs);
            return Err(Error::Exists);
        }
        let slot = match g.free_slots.pop() {
            Some(s) => s,
            None => {
                g.slots.push(Slot { entry: None, prev: NIL, next: NIL, gen: 0, pending: false });
                (g.slots.len() - 1) as u32
            }
        };
        g.dram += entry_dram(key.len(), runs.len());
        let entry = Arc::new(Entry {
            key: key.into(),
            vsize: value.len(),
            runs: runs.into_boxed_slice(),
            slot,
            evicting: AtomicBool::new(false),
        });
        g.slots[slot as usize].entry = Some(entry);
        g.slots[slot as usize].gen = g.slots[slot as usize].gen.wrapping_add(1);
        g.slots[slot as usize].pending = false;
        g.push_front(slot);
        let hasher = &self.hasher;
        let Inner { table, slots, .. } = &mut *g;
        table.insert_unique(hash, slot, |&s| {
            hasher.hash_one(&*slots[s as usize].entry.as_ref().expect("indexed slots hold entries").key)
        });
        g.stats[Stat::Put as usize] += 1;
        Ok(())
    }

    /// Takes `units` of the pool for a new value of `key`, evicting under LRU until they fit.
    fn take_space(&self, hash: u64, key: &[u8], units: u64) -> Result<Vec<Run>, Error> {
        loop {
            let victim = {
                let mut g = self.lock();
                if g.find(hash, key).is_some() {
                    return Err(Error::Exists);
                }
                let Inner { heap, commit_error, .. } = &mut *g;
                let mut commit = |first: u64, count: u64| {
                    let r = self.pool.commit(first as usize * self.extent, count as usize * self.extent);
                    r.map_err(|e| *commit_error = Some(e)).is_ok()
                };
                if let Some(runs) = heap.alloc(units, &mut commit) {
                    return Ok(runs);
                }
                let full = |commit_error: Option<Errno>| match commit_error {
                    Some(e) => Error::Sys("allocating pool blocks", e),
                    None => Error::NoSpace("not enough space in the pool".into()),
                };
                if self.policy == Policy::None {
                    return Err(full(g.commit_error));
                }
                match g.pick_victim() {
                    Some(v) => v,
                    None if g.heap.available() >= units => continue, // readers hold evicted extents
                    None => return Err(full(g.commit_error)),
                }
            };
            self.evict_entry(victim);
        }
    }

    /// Calls the eviction hook for an entry marked as being evicted, then removes it.
    fn evict_entry(&self, e: Arc<Entry>) -> bool {
        let hook = self.on_evict.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(hook) = hook {
            hook(self, &e.key);
        }
        let mut g = self.lock();
        let removed = g.remove(&self.hasher, &e);
        g.release(e);
        removed
    }

    /// Copies the value of `key`, from byte `offset` on, into `buf`: returns the bytes copied
    /// and the value's full size. On a miss the miss hook runs, and if it put the key its value
    /// is returned.
    pub fn get(&self, key: &[u8], buf: &mut [u8], offset: usize) -> Result<(usize, usize), Error> {
        let hash = self.hasher.hash_one(key);
        let found = {
            let mut g = self.lock();
            g.stats[Stat::Get as usize] += 1;
            match g.find(hash, key) {
                Some(s) => {
                    g.stats[Stat::Hit as usize] += 1;
                    if self.policy == Policy::Lru {
                        g.used(s);
                    }
                    Some(g.entry(s).clone())
                }
                None => {
                    g.stats[Stat::Miss as usize] += 1;
                    None
                }
            }
        };
        let e = match found {
            Some(e) => e,
            None => {
                let hook = self.on_miss.read().unwrap_or_else(|p| p.into_inner()).clone();
                let Some(hook) = hook else { return Err(Error::NoEntry) };
                hook(self, key);
                let g = self.lock();
                match g.find(hash, key) {
                    Some(s) => g.entry(s).clone(),
                    None => return Err(Error::NoEntry),
                }
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
        let (mut skip, mut done) = (offset, 0);
        for r in e.runs.iter() {
            if done == want {
                break;
            }
            let bytes = r.len as usize * self.extent;
            if skip >= bytes {
                skip -= bytes;
                continue;
            }
            let n = (bytes - skip).min(want - done);
            // SAFETY: the runs belong to `e`, which the caller holds a reference to, so they stay
            // allocated and unwritten; `skip + n` stays inside this run of the pool.
            unsafe { self.pool.read(r.start as usize * self.extent + skip, &mut buf[done..done + n]) };
            done += n;
            skip = 0;
        }
        done
    }

    fn drop_ref(&self, e: Arc<Entry>) {
        // Only the last holder of an evicted entry (the index's reference is gone) needs the
        // lock; `into_inner` makes exactly one of racing holders the last.
        if let Some(e) = Arc::into_inner(e) {
            self.lock().heap.free(&e.runs);
        }
    }

    /// The size of the value of `key`, if present; touches neither the LRU order nor the stats.
    pub fn exists(&self, key: &[u8]) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        let g = self.lock();
        g.find(hash, key).map(|s| g.entry(s).vsize)
    }

    /// Evicts `key`, or with `None` the least recently used entry (`NoVictim` under
    /// `Policy::None` or when the cache is empty). The eviction hook runs first.
    pub fn evict(&self, key: Option<&[u8]>) -> Result<(), Error> {
        let victim = match key {
            Some(key) => {
                let hash = self.hasher.hash_one(key);
                let g = self.lock();
                let s = g.find(hash, key).ok_or(Error::NoEntry)?;
                let e = g.entry(s);
                if e.evicting.swap(true, Ordering::AcqRel) {
                    return Err(Error::Busy);
                }
                e.clone()
            }
            None if self.policy == Policy::None => return Err(Error::NoVictim),
            None => self.lock().pick_victim().ok_or(Error::NoVictim)?,
        };
        self.evict_entry(victim);
        Ok(())
    }

    /// One statistic.
    pub fn stat(&self, stat: Stat) -> u64 {
        let g = self.lock();
        match stat {
            Stat::Put | Stat::Get | Stat::Hit | Stat::Miss | Stat::Evict => g.stats[stat as usize],
            Stat::Entries => g.table.len() as u64,
            Stat::DramSizeUsed => g.dram,
            Stat::PoolSizeUsed => g.heap.used() * self.extent as u64,
            Stat::HeapEntries => g.heap.entries(),
        }
    }

    /// Every statistic at one instant, in [`Stat::ALL`]'s order.
    pub fn stats(&self) -> [u64; 9] {
        let g = self.lock();
        let s = g.stats;
        [
            s[0],
            s[1],
            s[2],
            s[3],
            s[4],
            g.table.len() as u64,
            g.dram,
            g.heap.used() * self.extent as u64,
            g.heap.entries(),
        ]
    }
}
