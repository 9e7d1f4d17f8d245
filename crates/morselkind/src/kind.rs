//! The kind table: `MEMKIND_MAX_KIND` (512) entries in one static array, the static kinds first.
//! A `Kind` is a pointer to its entry, so it is `Copy`, const-constructible and usable from C as
//! `memkind_t`. Static kinds are set up on first use; dynamic kinds (PMEM, FIXED, created kinds)
//! take a free entry and give it back when destroyed, for the next creation to reuse.
//!
//! An entry's fields are written only while it is `BUSY`, under the registry lock, and published
//! by storing `LIVE` with release ordering; the allocation paths read them after an acquire load
//! of `LIVE`. Using a kind while another thread destroys it is the caller's bug, as in memkind.
//!
//! What a static kind is (its name, placement and pages) is `crate::statics`' table; this
//! module only owns the entries. The one circle among the crate's modules is here: kind ↔
//! cache (a destroyer waits out every thread's busy window and flushes their caches of the
//! kind; a cache reads its kind's generation and arenas) and kind ↔ fork (the fork handlers
//! take REGISTRY and ARENAS through [`fork_lock`] in their lock order and walk the live kinds;
//! every slow path here settles a forked child's copies first and installs the handlers).

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU8, AtomicUsize, Ordering};

use morsel::lock::Lock;
use morsel::Source;

use crate::error::{Error, Result};
use crate::je;
use crate::machine::machine;
use crate::meta::MetaBox;
use crate::provider::{KindSpec, MorselLayout, MorselTotals, Provider};
use crate::statics::{StaticKind, NUM_STATIC};

/// Entries in the kind table, static kinds included (memkind's `MEMKIND_MAX_KIND`).
pub const MAX_KIND: usize = 512;
/// Most jemalloc arenas per kind: 512 kinds × 4 arenas stay well inside jemalloc's 4095, even
/// beside its automatic arenas on a 256-core machine. Thread caches carry the scalability.
pub const MAX_ARENAS: usize = 4;

const FREE: u8 = 0;
const BUSY: u8 = 1;
const LIVE: u8 = 2;
const UNAVAILABLE: u8 = 3;

/// One entry of the kind table (one cache line, so an index is a shift away).
#[repr(align(64))]
pub struct KindInner {
    state: AtomicU8,
    generation: AtomicU32,
    arena_mask: AtomicU32,
    arenas: [AtomicU32; MAX_ARENAS],
    provider: AtomicPtr<Provider>,
    unavailable: AtomicI32,
    dirty_decay_ms: AtomicI32,
    /// In a forked child: the kind was live at the fork (see [`Kind::destroy`]).
    inherited: AtomicBool,
}

impl KindInner {
    const fn new() -> KindInner {
        KindInner {
            state: AtomicU8::new(FREE),
            generation: AtomicU32::new(0),
            arena_mask: AtomicU32::new(0),
            arenas: [const { AtomicU32::new(0) }; MAX_ARENAS],
            provider: AtomicPtr::new(std::ptr::null_mut()),
            unavailable: AtomicI32::new(0),
            dirty_decay_ms: AtomicI32::new(0),
            inherited: AtomicBool::new(false),
        }
    }
}

/// The kind table.
pub static KINDS: [KindInner; MAX_KIND] = [const { KindInner::new() }; MAX_KIND];

/// The function [`Kind::destroy`] calls (a `fn(Kind)`), or 0.
static DESTROY_HOOK: AtomicUsize = AtomicUsize::new(0);
static REGISTRY: Lock<()> = Lock::new(());
/// Serialises the lazy creation of a kind's second and later arenas (and their destruction).
/// Separate from REGISTRY: a destroyer holds REGISTRY while it waits for cache fills, and a
/// fill may need to create an arena.
static ARENAS: Lock<()> = Lock::new(());
/// Takes REGISTRY, then ARENAS, for a fork (see `crate::fork`); [`fork_unlock`] releases them.
pub(crate) fn fork_lock() {
    REGISTRY.raw().acquire();
    ARENAS.raw().acquire();
}

/// Releases what [`fork_lock`] took, in the parent or in the child.
///
/// # Safety
/// Only after [`fork_lock`], by the thread that called it (or its image in the child).
pub(crate) unsafe fn fork_unlock() {
    // SAFETY: taken by `fork_lock`, without guards.
    unsafe {
        ARENAS.raw().release();
        REGISTRY.raw().release();
    }
}

/// An arena slot not created yet.
const NO_ARENA: u32 = u32::MAX;

/// Arenas per kind: MEMKIND_ARENA_NUM_PER_KIND rounded up to a power of two, else one per CPU,
/// and never more than [`MAX_ARENAS`] (so 512 kinds always fit in jemalloc's 4095 arenas).
///
/// `Err(Error::Environ)` when the variable is set to something memkind refuses (0, no number,
/// more than `INT_MAX`): memkind then fails every kind that makes arenas of its own.
pub fn arenas_per_kind() -> Result<usize> {
    static ARENAS: std::sync::OnceLock<Result<usize>> = std::sync::OnceLock::new();
    *ARENAS.get_or_init(|| {
        let wanted = match machine().env.arena_num_per_kind() {
            Ok(Some(n)) => n as usize,
            Ok(None) => cpus(),
            Err(_) => return Err(Error::Environ),
        };
        Ok(wanted.next_power_of_two().min(MAX_ARENAS))
    })
}

/// The arena count for MEMKIND_DEFAULT, which memkind serves from jemalloc's own arenas and so
/// never fails on a bad MEMKIND_ARENA_NUM_PER_KIND: the CPU count then.
fn arenas_for_default() -> usize {
    arenas_per_kind().unwrap_or_else(|_| cpus().next_power_of_two()).min(MAX_ARENAS)
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

thread_local! {
    static SLOT: std::cell::Cell<u32> = const { std::cell::Cell::new(u32::MAX) };
}
static NEXT_SLOT: AtomicU32 = AtomicU32::new(0);

/// The calling thread's slot: threads take slots round-robin, once, and a kind picks its arena
/// by slot. No hashing on the allocation path.
#[inline]
pub(crate) fn thread_slot() -> u32 {
    SLOT.with(|s| {
        let v = s.get();
        if v != u32::MAX {
            return v;
        }
        let v = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) & 0xffff;
        s.set(v);
        v
    })
}

impl StaticKind {
    /// Its handle.
    pub const fn kind(self) -> Kind {
        Kind(&KINDS[self as usize])
    }
}

/// A kind of memory: a handle to an entry of the kind table. `Copy`, and an allocator
/// (allocator-api2's `Allocator`, so hashbrown's maps and allocator-api2's `Vec` and `Box` take
/// it), with malloc-style calls too.
///
/// ```
/// use morselkind::allocator_api2::vec::Vec;
/// use morselkind::{Kind, StaticKind};
///
/// let mut v = Vec::new_in(Kind::DEFAULT);
/// v.extend(0..100u64);
/// assert_eq!(Kind::detect(v.as_ptr().cast()), Some(Kind::DEFAULT));
///
/// // memkind's static kinds; those the machine cannot serve say why.
/// match StaticKind::Hbw.kind().ready() {
///     Ok(()) => println!("high-bandwidth memory is here"),
///     Err(e) => println!("no MEMKIND_HBW: {e}"),
/// }
/// ```
#[derive(Clone, Copy)]
pub struct Kind(&'static KindInner);

impl PartialEq for Kind {
    fn eq(&self, other: &Kind) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Kind {}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kind({}: {})", self.index(), self.name())
    }
}

impl Kind {
    /// Plain memory, default page size, no binding.
    pub const DEFAULT: Kind = StaticKind::Default.kind();
    /// Memory bound to the nodes that have CPUs.
    pub const REGULAR: Kind = StaticKind::Regular.kind();
    /// Interleaved over all nodes, without huge pages.
    pub const INTERLEAVE: Kind = StaticKind::Interleave.kind();
    /// THP-backed 2 MiB morsels (morselkind's own kind).
    pub const HUGE: Kind = StaticKind::Huge.kind();

    /// Whether this is MEMKIND_DEFAULT (which takes jemalloc's own fast paths).
    #[inline(always)]
    pub fn is_default(self) -> bool {
        std::ptr::eq(self.0, &KINDS[0])
    }

    /// The entry's index in the kind table (memkind's partition for static kinds).
    #[inline(always)]
    pub fn index(self) -> usize {
        (self.0 as *const KindInner as usize - KINDS.as_ptr() as usize) / std::mem::size_of::<KindInner>()
    }

    /// The kind at a table index, if the entry is in use.
    pub fn from_index(i: usize) -> Option<Kind> {
        let entry = KINDS.get(i)?;
        (i < NUM_STATIC || entry.state.load(Ordering::Acquire) == LIVE).then_some(Kind(entry))
    }

    /// The kind whose entry is at `p`, if `p` points into the table.
    pub fn from_ptr(p: *const KindInner) -> Option<Kind> {
        let base = KINDS.as_ptr() as usize;
        let off = (p as usize).wrapping_sub(base);
        let size = std::mem::size_of::<KindInner>();
        (off < MAX_KIND * size && off % size == 0).then(|| Kind(&KINDS[off / size]))
    }

    /// The kind whose entry is at `p`, which the caller knows points into the table (a span's
    /// owner, written by the table itself).
    ///
    /// # Safety
    /// `p` must point at an entry of the kind table.
    #[inline(always)]
    pub(crate) unsafe fn from_entry(p: *const KindInner) -> Kind {
        // SAFETY: forwarded from the caller.
        Kind(unsafe { &*p })
    }

    /// Its entry in the kind table (what directory spans name as their owner).
    #[inline(always)]
    pub(crate) const fn entry(self) -> *const KindInner {
        self.0
    }

    /// A raw pointer to the entry (memkind's `memkind_t`).
    pub const fn as_ptr(self) -> *const KindInner {
        self.0
    }

    /// Its static kind, if it is one.
    pub fn static_kind(self) -> Option<StaticKind> {
        StaticKind::from_index(self.index())
    }

    /// memkind's name for a static kind (its table row's); "morselkind_dynamic" for every other
    /// kind (PMEM, FIXED, or made by [`Kind::create`]).
    pub fn name(self) -> &'static str {
        match self.static_kind() {
            Some(s) => s.name(),
            None => "morselkind_dynamic",
        }
    }

    /// The generation of the entry: bumped at every creation and destruction.
    #[inline(always)]
    pub fn generation(self) -> u32 {
        self.0.generation.load(Ordering::Acquire)
    }

    /// The generation itself, for the cache's busy-window handshake (`crate::busy`).
    pub(crate) fn generation_cell(self) -> &'static AtomicU32 {
        &self.0.generation
    }

    /// The kind at a table index, whatever its state.
    pub(crate) fn from_index_any(i: usize) -> Option<Kind> {
        KINDS.get(i).map(Kind)
    }

    /// Makes sure the kind is ready to allocate; sets a static kind up on first use.
    #[inline]
    pub fn ready(self) -> Result<()> {
        // Every slow path passes here: a forked child makes its file kinds' copies first.
        crate::fork::settle_if_pending();
        match self.0.state.load(Ordering::Acquire) {
            LIVE => Ok(()),
            _ => self.ready_slow(),
        }
    }

    /// Whether the kind can allocate (memkind_check_available): as [`Kind::ready`], except
    /// that a static kind whose arenas a bad MEMKIND_ARENA_NUM_PER_KIND forbids is not set up
    /// (memkind answers by the machine alone, and aborts only when the kind is first used;
    /// measured: all but MEMKIND_REGULAR, whose check sets it up and so aborts there).
    pub fn check_available(self) -> Result<()> {
        match self.static_kind() {
            Some(sk)
                if !matches!(sk, StaticKind::Default | StaticKind::Regular) && arenas_per_kind().is_err() =>
            {
                crate::statics::spec(sk).map(|_| ())
            }
            _ => self.ready(),
        }
    }

    #[cold]
    fn ready_slow(self) -> Result<()> {
        let Some(sk) = self.static_kind() else { return Err(Error::Invalid) };
        crate::startup::startup();
        crate::fork::install();
        crate::fork::settle_if_pending();
        let _r = REGISTRY.lock();
        match self.0.state.load(Ordering::Acquire) {
            LIVE => return Ok(()),
            UNAVAILABLE => return Err(self.unavailable_reason()),
            _ => {}
        }
        if sk != StaticKind::Default {
            if let Err(e) = arenas_per_kind() {
                // memkind's static kinds other than DEFAULT make their arenas on first use and
                // abort when MEMKIND_ARENA_NUM_PER_KIND forbids it, available or not.
                crate::log::fatal(|l| {
                    l.s(b"[").s(sk.name().as_bytes()).s(b"] Failed to create arena map (error code:");
                    l.i(i64::from(e.code())).s(b").");
                });
            }
        }
        let outcome = crate::statics::spec(sk).and_then(|spec| self.install(spec));
        crate::diagnostics::report(sk, &outcome);
        match outcome {
            Ok(()) => Ok(()),
            Err(e) => {
                self.0.unavailable.store(e.code(), Ordering::Relaxed);
                self.0.state.store(UNAVAILABLE, Ordering::Release);
                Err(e)
            }
        }
    }

    fn unavailable_reason(self) -> Error {
        Error::from_code(self.0.unavailable.load(Ordering::Relaxed)).unwrap_or(Error::Unavailable)
    }

    /// Creates the provider and the first arena and publishes the entry. Called under the
    /// registry lock. Further arenas are made when a thread first needs them, so a kind used by
    /// one thread (or made and destroyed in a loop) pays for one arena only.
    fn install(self, spec: KindSpec) -> Result<()> {
        let arenas = match self.static_kind() {
            Some(StaticKind::Default) => arenas_for_default(),
            _ => arenas_per_kind()?,
        };
        let provider = Provider::new(self.0 as *const KindInner as usize, spec.source, spec.config)?;
        // jemalloc's number: ms, -1 for never.
        let decay = spec.dirty_decay.map_or(-1, |d| d.as_millis().min(i32::MAX as u128) as i32);
        let first = new_arena(&provider, decay)?;
        self.0.arenas[0].store(first, Ordering::Relaxed);
        for a in &self.0.arenas[1..] {
            a.store(NO_ARENA, Ordering::Relaxed);
        }
        self.0.dirty_decay_ms.store(decay, Ordering::Relaxed);
        self.0.arena_mask.store(arenas as u32 - 1, Ordering::Relaxed);
        self.0.provider.store(MetaBox::into_raw(provider), Ordering::Relaxed);
        self.0.inherited.store(false, Ordering::Relaxed);
        self.0.generation.fetch_add(1, Ordering::Relaxed);
        self.0.state.store(LIVE, Ordering::Release);
        Ok(())
    }

    #[cold]
    fn arena_slow(self, i: usize) -> u32 {
        let _a = ARENAS.lock();
        let slot = &self.0.arenas[i];
        let current = slot.load(Ordering::Acquire);
        if current != NO_ARENA {
            return current;
        }
        let made = self
            .provider()
            .and_then(|p| new_arena(p, self.0.dirty_decay_ms.load(Ordering::Relaxed)).ok())
            // Out of jemalloc arenas: share the first one.
            .unwrap_or_else(|| self.0.arenas[0].load(Ordering::Relaxed));
        slot.store(made, Ordering::Release);
        made
    }

    /// Creates a dynamic kind in a free entry of the table.
    pub fn create(spec: KindSpec) -> Result<Kind> {
        crate::startup::startup();
        crate::fork::install();
        crate::fork::settle_if_pending();
        let _r = REGISTRY.lock();
        let Some(entry) = KINDS[NUM_STATIC..].iter().find(|k| k.state.load(Ordering::Acquire) == FREE) else {
            crate::log::error(|l| {
                l.s(b"Attempted to initialize more than maximum (")
                    .n(MAX_KIND as u64)
                    .s(b") number of kinds.");
            });
            return Err(Error::TooMany);
        };
        entry.state.store(BUSY, Ordering::Relaxed);
        let kind = Kind(entry);
        kind.install(spec).inspect_err(|e| {
            entry.state.store(FREE, Ordering::Release);
            crate::log::error(|l| {
                l.s(b"Cannot create kind: ").s(e.message().as_bytes()).s(b".");
            });
        })?;
        Ok(kind)
    }

    /// Destroys a dynamic kind: its arenas, every allocation in it, its morsels, its file.
    /// Static kinds cannot be destroyed (`Error::Invalid`).
    ///
    /// # Safety
    /// No pointer from this kind may be used afterwards, and no other thread may be using it.
    pub unsafe fn destroy(self) -> Result<()> {
        if self.static_kind().is_some() {
            return Err(Error::Invalid);
        }
        let _r = REGISTRY.lock();
        if self.0.state.load(Ordering::Acquire) != LIVE {
            return Err(Error::Invalid);
        }
        self.0.state.store(BUSY, Ordering::Release);
        crate::busy::retire(self.generation_cell());
        crate::cache::before_destroy(self);
        if let Some(p) = self.provider() {
            p.begin_teardown();
        }
        // A forked child's kind that was live at the fork keeps its arenas: a thread of the
        // parent may have been inside jemalloc with one of the kind's extents between two of
        // jemalloc's lists (taken out of the free extents, not yet a slab or a large block),
        // and that thread is gone. Destroying such an arena left the extent registered in
        // jemalloc's global map, pointing into the arena's metadata, which the destruction
        // unmaps: the next extent laid out beside that address read it (SIGSEGV, seen in one
        // fork in ten of tests/fork.rs's churn). Kept, the arena is never used again (its kind
        // entry forgets it) and any stale entry points into live memory, from an arena that
        // never merges with another's. The kind's memory and file go as usual.
        let keep_arenas = self.0.inherited.load(Ordering::Relaxed);
        {
            let _a = ARENAS.lock();
            let first = self.0.arenas[0].load(Ordering::Relaxed);
            for (i, slot) in self.0.arenas.iter().enumerate() {
                let a = slot.swap(NO_ARENA, Ordering::AcqRel);
                if a != NO_ARENA && (i == 0 || a != first) && !keep_arenas {
                    // SAFETY: the kind is BUSY and retired: no thread allocates from it, every
                    // cache of it is flushed, and the caller uses none of its blocks again.
                    unsafe { je::arena_destroy(a) };
                }
            }
        }
        let provider = self.0.provider.swap(std::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: the provider was leaked from a MetaBox in `install`; its arenas are gone (or
        // kept, above), and nothing else uses it.
        let mut provider = unsafe { MetaBox::from_raw_in(provider, crate::meta::MetaAlloc) };
        if keep_arenas {
            // The kept arenas hold the provider's hooks: it stays, its memory and file go.
            provider.release_for_kept_arenas();
            let _ = MetaBox::into_raw(provider);
        } else {
            // Dropping it unmaps the morsels and closes the file.
            drop(provider);
        }
        // Before the entry can be taken again: whatever counts per kind forgets this one.
        let hook = DESTROY_HOOK.load(Ordering::Acquire);
        if hook != 0 {
            // SAFETY: only `set_destroy_hook` stores here, and it stores a `fn(Kind)`.
            let hook: fn(Kind) = unsafe { std::mem::transmute::<usize, fn(Kind)>(hook) };
            hook(self);
        }
        self.0.state.store(FREE, Ordering::Release);
        Ok(())
    }

    /// Sets the function every [`Kind::destroy`] calls, after the kind's memory is gone and
    /// before its table entry can be reused (memtier resets its byte counters there, as
    /// memkind does). One hook per process; a later call replaces it.
    pub fn set_destroy_hook(hook: fn(Kind)) {
        DESTROY_HOOK.store(hook as usize, Ordering::Release);
    }

    /// In a forked child's fork handler: the kind was live at the fork.
    pub(crate) fn mark_inherited(self) {
        self.0.inherited.store(true, Ordering::Relaxed);
    }

    /// The kind's arenas.
    pub fn arenas(self) -> impl Iterator<Item = u32> {
        let n = self.0.arena_mask.load(Ordering::Relaxed) as usize + 1;
        let first = self.0.arenas[0].load(Ordering::Relaxed);
        (0..n)
            .map(move |i| self.0.arenas[i].load(Ordering::Relaxed))
            .enumerate()
            .filter(move |&(i, a)| a != NO_ARENA && (i == 0 || a != first))
            .map(|(_, a)| a)
    }

    /// The arena for the calling thread.
    #[inline]
    pub(crate) fn arena(self) -> u32 {
        let i = (thread_slot() & self.0.arena_mask.load(Ordering::Relaxed)) as usize;
        match self.0.arenas[i].load(Ordering::Acquire) {
            NO_ARENA => self.arena_slow(i),
            a => a,
        }
    }

    /// The provider of a ready kind.
    pub(crate) fn provider(self) -> Option<&'static Provider> {
        // SAFETY: a LIVE entry's provider lives until the kind is destroyed.
        unsafe { self.0.provider.load(Ordering::Acquire).as_ref() }
    }

    /// Whether the kind is ready (LIVE) right now; does not set anything up.
    pub fn is_live(self) -> bool {
        self.0.state.load(Ordering::Acquire) == LIVE
    }

    /// Whether this kind has a size limit.
    pub fn is_limited(self) -> bool {
        self.provider().is_some_and(|p| p.config().limit.is_some())
    }

    /// Bytes committed to this kind's file (file kinds), as the limit counts them.
    pub fn committed(self) -> usize {
        self.provider().map_or(0, |p| p.committed())
    }

    /// Purges every unused dirty page of the kind now.
    pub fn purge(self) {
        if self.is_live() {
            self.arenas().for_each(je::arena_purge);
        }
    }

    /// The kind's statistics from the last [`crate::update_cached_stats`].
    ///
    /// ```
    /// use morselkind::{Kind, PmemConfig};
    ///
    /// let kind = Kind::pmem(&PmemConfig::new(&std::env::temp_dir()))?;
    /// let p = kind.malloc(8 << 20)?;
    /// morselkind::update_cached_stats();
    /// assert!(kind.stats().allocated >= 8 << 20);
    /// // SAFETY: `p` is this kind's; nothing else uses the kind.
    /// unsafe {
    ///     kind.free(p);
    ///     kind.destroy()?;
    /// }
    /// # Ok::<(), morselkind::Error>(())
    /// ```
    pub fn stats(self) -> je::ArenaStats {
        if !self.is_live() {
            return je::ArenaStats::default();
        }
        self.arenas().map(je::arena_stats).fold(je::ArenaStats::default(), |a, s| je::ArenaStats {
            resident: a.resident + s.resident,
            active: a.active + s.active,
            allocated: a.allocated + s.allocated,
        })
    }

    /// Morsels mapped, and bytes of address space they span (none for a kind not made yet).
    pub fn morsels(self) -> MorselTotals {
        self.provider()
            .map_or_else(MorselTotals::default, |p| MorselTotals { count: p.morsels(), mapped: p.mapped() })
    }

    /// Where every morsel of the kind lies, oldest first.
    pub fn morsel_layout(self) -> Vec<MorselLayout> {
        self.provider().map_or_else(Vec::new, |p| p.morsel_layout())
    }

    /// The kind's memory source, if ready.
    pub fn source(self) -> Option<&'static Source> {
        self.provider().map(|p| p.source())
    }

    /// Populates `[addr, addr+len)` of this kind's memory in batched calls; bytes populated.
    pub fn populate(self, addr: usize, len: usize) -> usize {
        self.provider().map_or(0, |p| p.populate(addr, len))
    }
}

/// Creates one jemalloc arena over `provider`, with the kind's decay and growth limits.
fn new_arena(provider: &Provider, dirty_decay_ms: i32) -> Result<u32> {
    // SAFETY: the provider's hooks trampoline into it, and it outlives its arenas: `destroy`
    // destroys them before it drops the provider.
    let a = unsafe { je::arena_create(provider.hooks()) }?;
    je::arena_set_retain_grow_limit(a, morsel::Order::Pud.size());
    je::arena_set_decay(a, dirty_decay_ms as isize, 0);
    Ok(a)
}

/// Every live kind.
pub fn live_kinds() -> impl Iterator<Item = Kind> {
    KINDS.iter().map(Kind).filter(|k| k.is_live())
}

impl Kind {
    /// memkind's `memkind_get_capacity`: the size limit or filesystem capacity of a PMEM kind,
    /// the region size of a FIXED kind, else the memory of the nodes the kind uses for the
    /// calling CPU.
    pub fn capacity(self) -> Result<usize> {
        if let Some(sk) = self.static_kind() {
            self.ready()?;
            let m = machine();
            let nodes = crate::statics::nodes_for(sk, crate::machine::current_node())?;
            return Ok(nodes.iter().filter_map(|n| m.topology.node(*n)).map(|n| n.mem_total as usize).sum());
        }
        let p = self.provider().ok_or(Error::Invalid)?;
        let c = p.config();
        if let Some(r) = &c.fixed {
            return Ok(r.len());
        }
        if let Some(limit) = c.limit {
            return Ok(limit);
        }
        Ok(p.source().fs_capacity() as usize)
    }

    /// Whether this is a FIXED kind.
    pub fn is_fixed(self) -> bool {
        self.provider().is_some_and(|p| p.config().fixed.is_some())
    }
}
