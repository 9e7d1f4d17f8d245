//! The arena provider: the jemalloc extent hooks of one kind, carving extents from its morsels.
//!
//! - `alloc` bump-carves from the kind's current morsel (order 2: 1 GiB of address space,
//!   committed only as used); no extent ever straddles two morsels. A request that does not fit
//!   a 1 GiB morsel (or a 1 TiB alignment) gets a morsel of its own. FIXED kinds carve the
//!   caller's region, page-aligned inside its edges.
//! - File-backed kinds commit with `fallocate` (so first touch is fast, a full filesystem is an
//!   ENOMEM rather than a SIGBUS, and a size limit is counted in file blocks actually taken) and
//!   decommit by punching holes. Anonymous kinds are mapped read-write up front: commit is free,
//!   decommit is `MADV_DONTNEED`.
//! - Huge kinds give back whole 2 MiB granules only: a partial purge would split a huge page.
//! - `merge` refuses to join extents of different morsels; `dalloc` opts out (jemalloc retains
//!   address space), and everything is unmapped when the kind is destroyed.
//!
//! Every hook is an `extern "C"` trampoline that catches panics and never calls back into
//! jemalloc. It never touches the Rust global allocator either: bookkeeping lives in `MetaAlloc`.

use std::ffi::c_void;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use morsel::lock::{Lock, LockGuard};
use morsel::{helper, sys, Backing, Morsel, Order, Purge, Source, GRANULE_SIZE, PAGE_SIZE};
use tikv_jemalloc_sys as je;

use crate::directory::{self, Span};
use crate::error::{Error, Result};
use crate::meta::{MetaAlloc, MetaBox};

/// A NUMA placement applied with one `mbind` per morsel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// `MPOL_BIND`, `MPOL_PREFERRED`, `MPOL_INTERLEAVE`, ...
    pub mode: i32,
    /// One bit per node.
    pub mask: [u64; 16],
}

impl Placement {
    /// A placement over `nodes`.
    pub fn new(mode: i32, nodes: impl IntoIterator<Item = u32>) -> Placement {
        let mut mask = [0u64; 16];
        for n in nodes {
            if (n as usize) < mask.len() * 64 {
                mask[n as usize / 64] |= 1 << (n % 64);
            }
        }
        Placement { mode, mask }
    }

    /// The nodes in the mask.
    pub fn nodes(&self) -> impl Iterator<Item = u32> + '_ {
        (0..(self.mask.len() * 64) as u32).filter(|n| self.mask[*n as usize / 64] >> (n % 64) & 1 == 1)
    }
}

/// Most NUMA nodes a per-node kind tells apart.
pub const MAX_NODES: usize = 64;

/// Where a kind's morsels go: one placement for all, or one per node of the calling CPU
/// (memkind's HBW and *_LOCAL kinds), each with its own current morsel.
#[derive(Clone, Debug, Default)]
pub enum Placements {
    /// No binding.
    #[default]
    None,
    /// The same placement whatever the CPU.
    All(Placement),
    /// Indexed by the calling CPU's node; `None` where that node has no placement (the
    /// allocation fails, as memkind's does).
    PerNode(Box<[Option<Placement>; MAX_NODES]>),
}

/// How a kind's memory is sourced and given back.
#[derive(Clone, Debug, Default)]
pub struct ProviderConfig {
    /// Most bytes committed at once (`None`: only the source limits it).
    pub limit: Option<usize>,
    /// NUMA placement, applied to each morsel with one `mbind`.
    pub placements: Placements,
    /// Transparent huge pages (`MADV_HUGEPAGE`), purged in whole granules only.
    pub huge: bool,
    /// Never huge pages (`MADV_NOHUGEPAGE`): memkind's INTERLEAVE.
    pub no_huge: bool,
    /// Never give memory back (MEMKIND_HOG_MEMORY=1).
    pub hog: bool,
    /// Populate extents when they are committed, in one batched call.
    pub eager: bool,
    /// A caller's region (its addresses, `start..end`) to carve instead of morsels.
    pub fixed: Option<Range<usize>>,
    /// One morsel for the whole `limit` (rounded up to 2 MiB), mapped when the kind is made,
    /// at a place other processes can map too: a kind shared with them (see `crate::share`).
    pub window: bool,
}

/// Where one morsel of a kind lies ([`crate::Kind::morsel_layout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MorselLayout {
    /// Its address.
    pub addr: usize,
    /// Its length in bytes.
    pub len: usize,
    /// Its offset in the kind's file (0 for anonymous memory).
    pub offset: u64,
    /// The size of its order, to which its address and offset are aligned.
    pub order_size: usize,
}

/// How many morsels a kind has mapped, and what they span ([`crate::Kind::morsels`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MorselTotals {
    /// Morsels mapped.
    pub count: usize,
    /// Bytes of address space they span.
    pub mapped: usize,
}

/// What a kind is made of: a provider's source and configuration, and its arenas' decay.
pub struct KindSpec {
    /// Where its memory comes from.
    pub source: Source,
    /// How it is carved and given back.
    pub config: ProviderConfig,
    /// How long freed dirty pages stay before they are purged (`None`: never; zero: at once).
    pub dirty_decay: Option<std::time::Duration>,
}

// ---- a forked child's copies of its file kinds (see `crate::fork`) ----

/// In a forked child: some kind still maps its parent's file privately, and its copy is to be
/// made before anything touches the kind (see `crate::fork`).
pub(crate) static FORK_PENDING: AtomicBool = AtomicBool::new(false);

/// What makes the child's copies: `crate::fork`'s `settle`, set when the fork handlers are
/// installed. Held here as a function, so the providers (which the kind table owns) do not
/// import the fork handlers (which walk the kind table).
static FORK_SETTLE: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets what [`settle_fork_if_pending`] calls (the first call wins).
pub(crate) fn set_fork_settle(settle: fn()) {
    let _ = FORK_SETTLE.set(settle);
}

/// In a forked child whose file kinds wait for their copies: makes them now (see
/// `crate::fork`). One relaxed load otherwise.
#[inline]
pub(crate) fn settle_fork_if_pending() {
    if FORK_PENDING.load(Ordering::Relaxed) {
        if let Some(settle) = FORK_SETTLE.get() {
            settle();
        }
    }
}

/// One registered span and its morsel (none for a FIXED region).
#[repr(C)]
struct Region {
    span: Span,
    morsel: Option<Morsel>,
    /// The region made before this one.
    older: *mut Region,
}

/// A provider's regions, newest first. An intrusive list rather than a vector: a push links the
/// new region and then publishes it with one store, so a fork that catches the alloc hook in
/// the middle of one (jemalloc calls it without `grow_mtx` when it retries a failed growth, see
/// `crate::fork`) leaves the child a whole list, with or without the new region; a vector
/// could be caught half-way through growing.
struct Regions {
    newest: AtomicPtr<Region>,
}

// SAFETY: the regions are owned by the list and only reached through the carver's lock.
unsafe impl Send for Regions {}

impl Regions {
    fn push(&mut self, region: MetaBox<Region>) {
        let r = MetaBox::into_raw(region);
        // SAFETY: `r` is fresh and ours; it is published by the store below.
        unsafe { (*r).older = self.newest.load(Ordering::Relaxed) };
        self.newest.store(r, Ordering::Release);
    }

    fn pop(&mut self) -> Option<MetaBox<Region>> {
        let r = self.newest.load(Ordering::Relaxed);
        if r.is_null() {
            return None;
        }
        // SAFETY: every region on the list came from `push`, which took it from a MetaBox.
        let region = unsafe { MetaBox::from_raw_in(r, MetaAlloc) };
        self.newest.store(region.older, Ordering::Release);
        Some(region)
    }

    fn iter(&self) -> impl Iterator<Item = &Region> {
        // SAFETY: regions on the list live until popped, which takes `&mut self`.
        std::iter::successors(unsafe { self.newest.load(Ordering::Acquire).as_ref() }, |r| unsafe {
            r.older.as_ref()
        })
    }
}

impl Drop for Regions {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}

/// The free tail of a current morsel.
#[derive(Clone, Copy, Default)]
struct Cursor {
    bump: usize,
    end: usize,
}

struct Carver {
    /// One cursor per node for per-node kinds, else only `cursors[0]`.
    cursors: [Cursor; MAX_NODES],
    regions: Regions,
}

/// A kind's arena provider. `hooks` comes first: jemalloc hands the hooks pointer back to every
/// hook, and that pointer is this struct.
#[repr(C)]
pub struct Provider {
    hooks: je::extent_hooks_t,
    owner: usize,
    source: Source,
    config: ProviderConfig,
    committed: AtomicUsize,
    carver: Lock<Carver>,
    /// Orders a small kind's chunk writes (zeroes over a whole chunk none of whose pages is
    /// committed) with every commit's noting of its pages as committed; held for nothing else.
    noting: Lock<()>,
    /// Set while the kind's arenas are destroyed: giving memory back is pointless then.
    dying: AtomicBool,
    /// When (`sys::coarse_ms`) a commit last found the filesystem full (ENOSPC, EDQUOT); 0
    /// when it has not since the last reclaim. Within [`FULL_BACKOFF_MS`] of it, commits fail
    /// at once: a program whose tier is full keeps asking, and each ask would otherwise cost
    /// failing system calls (and the allocation's reclaim a purge of every kind).
    full_at: AtomicU64,
    /// When the last reclaim for this kind ran (see `reclaim_ready`).
    reclaimed_at: AtomicU64,
    /// In a forked child: the morsels are private interim mappings of the parent's file,
    /// waiting for the child's own copy (see `crate::fork`).
    fork_pending: AtomicBool,
    /// In a forked child that could make no copy at all (no file, no memfd): the kind keeps the
    /// memory it inherited, privately, and takes no more (commits fail: ENOMEM).
    orphaned: AtomicBool,
}

/// How long a kind that found its filesystem full fails commits without asking it again.
const FULL_BACKOFF_MS: u64 = 10;

const MORSEL_ORDER: Order = Order::Pud;
/// Below this many committed bytes, an unlimited file kind fallocates exactly what it commits
/// (not whole granules) and its faults do not read ahead.
const SMALL_KIND: usize = 1 << 20;

impl Provider {
    /// A provider for the kind whose table entry is at `owner`.
    pub fn new(owner: usize, source: Source, config: ProviderConfig) -> Result<MetaBox<Provider>> {
        let provider = MetaBox::new_in(
            Provider {
                hooks: HOOKS,
                owner,
                source,
                config,
                committed: AtomicUsize::new(0),
                dying: AtomicBool::new(false),
                full_at: AtomicU64::new(0),
                reclaimed_at: AtomicU64::new(0),
                fork_pending: AtomicBool::new(false),
                orphaned: AtomicBool::new(false),
                noting: Lock::new(()),
                carver: Lock::new(Carver {
                    cursors: [Cursor::default(); MAX_NODES],
                    regions: Regions { newest: AtomicPtr::new(std::ptr::null_mut()) },
                }),
            },
            MetaAlloc,
        );
        // A NULL or empty region (which memkind accepts) is never carved: the kind serves nothing.
        if let Some(r) = provider.config.fixed.clone().filter(|r| r.start != 0 && !r.is_empty()) {
            provider.add_fixed(r.start, r.end)?;
        }
        if provider.config.window {
            provider.add_window()?;
        }
        Ok(provider)
    }

    /// Maps a shared kind's one morsel, its whole window, and makes it the current one. The
    /// file is sized to the window at once (sparse: it costs nothing until committed) and,
    /// for a memfd, sealed against shrinking, so that a process that maps the window can read
    /// any page of it and never meet the file's end.
    fn add_window(&self) -> Result<()> {
        let limit = self.config.limit.ok_or(Error::Invalid)?;
        let len = morsel::align_up(limit, GRANULE_SIZE).ok_or(Error::Invalid)?;
        let order = if len % MORSEL_ORDER.size() == 0 { MORSEL_ORDER } else { Order::Pmd };
        let morsel = Morsel::create_window(&self.source, order, len)?;
        self.source.seal_shrink()?;
        self.advise(&morsel);
        let mut carver = self.lock();
        let (base, len) = self.register(&mut carver, morsel)?;
        carver.cursors[0] = Cursor { bump: base, end: base + len };
        Ok(())
    }

    /// Registers a new morsel in the directory and the region list and returns its address
    /// and length; where the directory refuses it, the morsel is destroyed (never handed out).
    fn register(&self, carver: &mut Carver, morsel: Morsel) -> Result<(usize, usize)> {
        let (base, len) = (morsel.base(), morsel.len());
        let region = MetaBox::new_in(
            Region {
                span: Span { start: base, end: base + len, owner: self.owner },
                morsel: Some(morsel),
                older: std::ptr::null_mut(),
            },
            MetaAlloc,
        );
        // SAFETY: the region stays in `regions` until `release_all` removes it.
        if let Err(e) = unsafe { directory::insert(&region.span) } {
            let region = MetaBox::into_inner(region);
            // SAFETY: never handed out.
            let _ = unsafe { region.morsel.expect("made above").destroy(&self.source) };
            return Err(e);
        }
        carver.regions.push(region);
        Ok((base, len))
    }

    /// A shared kind's window: its address, its length and its offset in the file.
    pub(crate) fn window(&self) -> Option<(usize, usize, u64)> {
        if !self.config.window {
            return None;
        }
        let carver = self.lock();
        let m = carver.regions.iter().find_map(|r| r.morsel.as_ref())?;
        Some((m.base(), m.len(), m.offset()))
    }

    fn add_fixed(&self, start: usize, end: usize) -> Result<()> {
        let mut carver = self.lock();
        let region = MetaBox::new_in(
            Region {
                span: Span { start, end, owner: self.owner },
                morsel: None,
                older: std::ptr::null_mut(),
            },
            MetaAlloc,
        );
        // SAFETY: the region is kept in `regions` until `release_all` removes it.
        unsafe { directory::insert(&region.span)? };
        carver.cursors[0] = Cursor {
            bump: morsel::align_up(start, PAGE_SIZE).ok_or(Error::Invalid)?,
            end: end & !(PAGE_SIZE - 1),
        };
        carver.regions.push(region);
        Ok(())
    }

    /// The hooks to give jemalloc.
    pub fn hooks(&self) -> *const je::extent_hooks_t {
        &self.hooks
    }

    /// The source.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The configuration.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// Bytes committed now (file blocks taken, for file kinds).
    pub fn committed(&self) -> usize {
        self.committed.load(Ordering::Relaxed)
    }

    /// The number of morsels mapped.
    pub fn morsels(&self) -> usize {
        self.lock().regions.iter().filter(|r| r.morsel.is_some()).count()
    }

    /// (address, length, file offset, order size) of every morsel, oldest first.
    pub fn morsel_layout(&self) -> Vec<MorselLayout> {
        let carver = self.lock();
        let mut layout: Vec<_> = carver
            .regions
            .iter()
            .filter_map(|r| r.morsel.as_ref())
            .map(|m| MorselLayout {
                addr: m.base(),
                len: m.len(),
                offset: m.offset(),
                order_size: m.order().size(),
            })
            .collect();
        layout.reverse();
        layout
    }

    /// Bytes of address space mapped in morsels.
    pub fn mapped(&self) -> usize {
        self.lock().regions.iter().filter_map(|r| r.morsel.as_ref()).map(|m| m.len()).sum()
    }

    fn lock(&self) -> LockGuard<'_, Carver> {
        self.carver.lock()
    }

    /// Unregisters and unmaps everything, newest morsel first (children before parents): a
    /// failure part-way leaves at most the morsel being destroyed behind.
    ///
    /// # Safety
    /// jemalloc must be done with the memory (the kind's arenas destroyed) and no pointer into
    /// it may be used again.
    pub unsafe fn release_all(&self, give_back_space: bool) {
        // A forked child's kind that still maps its parent's file must not punch it.
        let pending = self.fork_pending.swap(false, Ordering::AcqRel);
        let give_back_space = give_back_space && !pending && !self.orphaned.load(Ordering::Relaxed);
        let mut carver = self.lock();
        while let Some(region) = carver.regions.pop() {
            // SAFETY: the span was inserted when the region was made.
            unsafe { directory::remove(&region.span) };
            let region = MetaBox::into_inner(region);
            if let Some(m) = region.morsel {
                // SAFETY: the caller guarantees nothing uses the memory any more.
                let _ = unsafe {
                    if give_back_space {
                        m.destroy(&self.source)
                    } else {
                        m.unmap()
                    }
                };
            }
        }
        carver.cursors = [Cursor::default(); MAX_NODES];
    }

    /// A forked child destroys a kind whose arenas it keeps (see `Kind::destroy`): the
    /// morsels are unmapped and the file closed, and the provider stays for the hooks, which
    /// find no morsel from then on and do nothing.
    pub(crate) fn release_for_kept_arenas(&mut self) {
        self.begin_teardown();
        // SAFETY: the kind is destroyed: nothing uses its memory any more.
        unsafe { self.release_all(false) };
        self.orphaned.store(true, Ordering::Relaxed);
        self.source.close();
    }

    /// The morsel holding `addr`, if `addr` is in one of ours.
    fn morsel_at(&self, addr: usize) -> Option<&Morsel> {
        let span = directory::lookup(addr)?;
        if span.owner != self.owner {
            return None;
        }
        // SAFETY: every span of ours is the first field of a `Region` (repr(C)), alive while
        // registered.
        let region = unsafe { &*(span as *const Span as *const Region) };
        region.morsel.as_ref()
    }

    /// The cursor index and placement for the calling thread.
    fn placement(&self) -> Result<(usize, Option<&Placement>)> {
        match &self.config.placements {
            Placements::None => Ok((0, None)),
            Placements::All(p) => Ok((0, Some(p))),
            Placements::PerNode(map) => {
                let node = crate::machine::current_node() % MAX_NODES;
                map[node].as_ref().map(|p| (node, Some(p))).ok_or(Error::Unavailable)
            }
        }
    }

    fn new_morsel(
        &self,
        carver: &mut Carver,
        cursor: usize,
        place: Option<&Placement>,
        size: usize,
        alignment: usize,
    ) -> Result<usize> {
        let morsel = self.create_morsel(size, alignment)?;
        if let Some(p) = place {
            if morsel.bind(p.mode, &p.mask).is_err() {
                // SAFETY: never handed out.
                let _ = unsafe { morsel.destroy(&self.source) };
                return Err(Error::Mbind);
            }
        }
        self.advise(&morsel);
        let (base, len) = self.register(carver, morsel)?;
        // The new morsel becomes the current one when it keeps more room after this request
        // than the current one has: a request that needed a morsel of its own leaves the
        // current one in place.
        let cur = carver.cursors[cursor];
        if len - size > cur.end - cur.bump {
            carver.cursors[cursor] = Cursor { bump: base, end: base + len };
        }
        Ok(base)
    }

    /// A morsel for `size` bytes at `alignment`: one of 1 GiB (or a multiple, for a larger
    /// request), or where the address space (RLIMIT_AS, overcommit) or the file size limit
    /// (RLIMIT_FSIZE) has no room for that, 2 MiB-order morsels, halving from 512 MiB down to
    /// the request rounded to 2 MiB.
    fn create_morsel(&self, size: usize, alignment: usize) -> Result<Morsel> {
        let unit = MORSEL_ORDER.size();
        let len = morsel::align_up(size, unit).ok_or(Error::OutOfMemory)?;
        let first = Morsel::create(&self.source, MORSEL_ORDER, len, alignment.max(unit));
        if first.is_ok() || alignment >= unit {
            return Ok(first?);
        }
        let need = morsel::align_up(size, GRANULE_SIZE).ok_or(Error::OutOfMemory)?;
        let mut len = (unit / 2).max(need);
        loop {
            match Morsel::create(&self.source, Order::Pmd, len, alignment.max(GRANULE_SIZE)) {
                Ok(m) => return Ok(m),
                Err(_) if len > need => len = (len / 2).max(need),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The advice a new mapping of a morsel takes.
    fn advise(&self, morsel: &Morsel) {
        if self.source.fd().is_some() && self.committed() < SMALL_KIND {
            // While a file kind is small, a fault must not read ahead: a whole frame of sparse
            // file lies behind it, and reading (then evicting) megabytes of zeroes would cost a
            // short-lived kind more than everything else it does.
            // SAFETY: the whole morsel is ours; the advice does not change contents.
            let _ = unsafe { sys::madvise(morsel.base(), morsel.len(), libc::MADV_RANDOM) };
        }
        if self.config.huge {
            let _ = morsel.advise_huge();
        } else if self.config.no_huge {
            // SAFETY: the whole morsel is ours; the advice does not change contents.
            let _ = unsafe { sys::madvise(morsel.base(), morsel.len(), libc::MADV_NOHUGEPAGE) };
        }
    }

    /// In a forked child (its only thread), from the fork handler: releases the carver and the
    /// source's lock, should a thread that does not exist in the child have held them at the
    /// fork, and maps a file kind's morsels privately (one `mmap` each, nothing copied), so the
    /// child's writes stay its own. Returns whether the kind now waits for its copy
    /// ([`Provider::settle_fork_copy`]); where a private mapping cannot be made, the copy is
    /// made at once instead.
    ///
    /// # Safety
    /// Only in a forked child, before any other thread exists, with the kind live.
    pub(crate) unsafe fn after_fork_child(&self) -> bool {
        if self.carver.raw().is_held() {
            // SAFETY: the holder is gone; see `crate::fork` for why the state is whole.
            unsafe { self.carver.raw().release() };
        }
        if self.noting.raw().is_held() {
            // SAFETY: as for the carver: a vanished thread's chunk write left nothing half-done
            // that a later commit relies on (the chunk is marked only after its write).
            unsafe { self.noting.raw().release() };
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.source.reset_lock_after_fork() };
        if !matches!(self.source.backing(), Backing::File | Backing::Memfd) {
            return false;
        }
        let carver = self.lock();
        // SAFETY: every morsel of a file source is a shared mapping of its file, owned here.
        let interim = carver
            .regions
            .iter()
            .filter_map(|r| r.morsel.as_ref())
            .try_for_each(|m| unsafe { self.source.map_private_interim(m) });
        drop(carver);
        self.fork_pending.store(true, Ordering::Release);
        if interim.is_err() {
            // SAFETY: forwarded from the caller.
            unsafe { self.settle_fork_copy() };
            return false;
        }
        true
    }

    /// In a forked child whose kind waits for its copy: gives the kind its own copy of its
    /// file, every block it holds reserved and every page it can read copied (the parent's
    /// data as the file holds it, then what the child wrote itself), mapped shared in place of
    /// the interim mappings at the same addresses (see `morsel::ForkCopy`). Where the directory
    /// has no room, the copy goes to a memfd, and the child says so once on stderr; where even
    /// that fails, the kind keeps its private mappings and takes no more memory.
    ///
    /// # Safety
    /// In a forked child, with no other thread using the kind's memory or provider (the fork
    /// handler, or `crate::fork::settle` under its lock, which hooks reach before they touch
    /// anything).
    pub(crate) unsafe fn settle_fork_copy(&self) {
        if !self.fork_pending.load(Ordering::Acquire) {
            return;
        }
        let carver = self.lock();
        let morsels = || carver.regions.iter().filter_map(|r| r.morsel.as_ref());
        // SAFETY: every morsel of a file source is a read-write mapping of its file at its
        // offset, owned by this provider; the caller vouches for the rest.
        let copy_all = |copy: &morsel::ForkCopy<'_>| morsels().try_for_each(|m| unsafe { copy.copy(m) });
        let copy = match self.source.begin_fork_copy() {
            Ok(Some(copy)) => match copy_all(&copy) {
                Ok(()) => Ok(copy),
                Err(e) => Err(e),
            },
            Ok(None) => {
                self.fork_pending.store(false, Ordering::Release);
                return;
            }
            Err(e) => Err(e),
        };
        let copy = copy.or_else(|e| {
            self.say_copy_in_memory(&e);
            let copy = self.source.begin_fork_copy_in_memory()?.expect("a file source");
            copy_all(&copy).map(|()| copy)
        });
        let done = copy.and_then(|copy| {
            morsels().try_for_each(|m| {
                // SAFETY: as above; `copy_all` copied every morsel.
                unsafe { copy.remap(m)? };
                // The new mapping has lost the old one's advice and policy. (Per-node
                // placements are for anonymous static kinds only.)
                if let Placements::All(p) = &self.config.placements {
                    let _ = m.bind(p.mode, &p.mask);
                }
                self.advise(m);
                Ok(())
            })?;
            copy.finish()
        });
        if let Err(e) = done {
            self.orphaned.store(true, Ordering::Release);
            let mut buf = [0u8; 20];
            sys::write_stderr(&[
                b"morselkind: after fork, the child cannot make its own copy of the kind's file (",
                e.what.as_bytes(),
                b", errno ",
                sys::decimal(e.errno.0.unsigned_abs() as u64, &mut buf),
                b"); it keeps what it inherited, privately, and the kind gives it no more memory\n",
            ]);
        }
        self.fork_pending.store(false, Ordering::Release);
    }

    /// One line on stderr, without allocating: the child's copy of this kind goes to memory.
    fn say_copy_in_memory(&self, e: &morsel::ForkError) {
        let mut buf = [0u8; 20];
        sys::write_stderr(&[
            b"morselkind: after fork, the child has no room for its copy of the kind's file in ",
            self.source.dir().map_or(&b"?"[..], |d| d.to_bytes()),
            b" (",
            e.what.as_bytes(),
            b", errno ",
            sys::decimal(e.errno.0.unsigned_abs() as u64, &mut buf),
            b"); its copy is a memfd\n",
        ]);
    }

    fn alloc(
        &self,
        new_addr: usize,
        size: usize,
        alignment: usize,
        zero: &mut bool,
        commit: &mut bool,
    ) -> usize {
        settle_fork_if_pending();
        let anon = self.source.backing() == Backing::Anon && self.config.fixed.is_none();
        if self.orphaned.load(Ordering::Relaxed) {
            return 0;
        }
        if *commit && self.full_recently() {
            // Neither carve nor make a morsel that could not be committed.
            return 0;
        }
        let Ok((c, place)) = self.placement() else { return 0 };
        let mut carver = self.lock();
        let cur = carver.cursors[c];
        let Some(aligned) = morsel::align_up(cur.bump, alignment.max(PAGE_SIZE)) else { return 0 };
        let fits = cur.end != 0 && aligned.checked_add(size).is_some_and(|e| e <= cur.end);
        let addr = if new_addr != 0 {
            if !(fits && aligned == new_addr) {
                return 0;
            }
            new_addr
        } else if fits {
            aligned
        } else if self.config.fixed.is_some() || self.config.window {
            return 0;
        } else {
            match self.new_morsel(&mut carver, c, place, size, alignment) {
                Ok(base) => base,
                Err(_) => return 0,
            }
        };
        // Carve under the lock; commit (a system call for files) outside it.
        let cur = &mut carver.cursors[c];
        let from_current = addr >= cur.bump && addr < cur.end;
        if from_current {
            cur.bump = addr + size;
        }
        drop(carver);
        if *commit && !anon && self.commit(addr, size).is_err() {
            let mut carver = self.lock();
            let cur = &mut carver.cursors[c];
            if from_current && cur.bump == addr + size {
                cur.bump = addr;
            }
            return 0;
        }
        // Anonymous memory is mapped read-write already; files commit only what jemalloc uses.
        *commit = *commit || anon;
        // Fresh morsel memory reads as zero; a caller's region may hold anything.
        *zero = self.config.fixed.is_none();
        addr
    }

    fn commit(&self, addr: usize, len: usize) -> Result<()> {
        settle_fork_if_pending();
        if self.config.fixed.is_some() {
            return Ok(());
        }
        match self.source.backing() {
            Backing::Anon => {
                if self.config.eager {
                    self.populate(addr, len);
                }
                Ok(())
            }
            // Huge pages are taken here, whole granules at a time; an empty pool is ENOMEM.
            Backing::Hugetlb => {
                let m = self.morsel_at(addr).ok_or(Error::Runtime)?;
                m.populate(&self.source, addr, len).map(|_| ()).map_err(|_| Error::OutOfMemory)
            }
            Backing::File | Backing::Memfd => self.commit_file(addr, len),
        }
    }

    fn commit_file(&self, addr: usize, len: usize) -> Result<()> {
        if self.full_recently() || self.orphaned.load(Ordering::Relaxed) {
            return Err(Error::OutOfMemory);
        }
        let limit = self.config.limit;
        let before = self.committed.fetch_add(len, Ordering::Relaxed);
        if limit.is_some_and(|limit| before + len > limit) {
            self.committed.fetch_sub(len, Ordering::Relaxed);
            return Err(Error::OutOfMemory);
        }
        let Some(m) = self.morsel_at(addr) else {
            self.committed.fetch_sub(len, Ordering::Relaxed);
            return Err(Error::Runtime);
        };
        let large = before + len > SMALL_KIND;
        // Exactly one commit crosses the line: the one with before ≤ SMALL_KIND < before + len.
        if limit.is_none() && before <= SMALL_KIND && large {
            // The kind is no longer small: let faults read ahead again (see `new_morsel`).
            self.advise_all(libc::MADV_NORMAL);
        }
        // Every committed byte has its file blocks before jemalloc hands it out: a write can
        // never fault on a full filesystem (ENOSPC, EDQUOT, EFBIG come back here as ENOMEM).
        let exact = || self.source.commit(m.offset_of(addr), len as u64).map(|()| len);
        let mut noting = None;
        let allocated = if limit.is_some() && !self.config.eager {
            // A size-limited kind allocates exactly what it commits, so the blocks in use
            // (st_blocks) never exceed its limit.
            exact()
        } else if !large && !self.config.eager && self.source.delays_allocation() {
            // A small kind on a disk filesystem reserves what it commits by writing zeroes, a
            // chunk at a time where no page of the chunk is in use: no extents made, none to
            // free when a short-lived kind goes. The check and the write hold `noting`, which
            // every commit holds while it notes its pages committed (below).
            noting = Some(self.noting.lock());
            m.write_chunks(&self.source, addr, len).map(|()| len)
        } else if !large && !self.config.eager {
            // A small kind on tmpfs allocates 64 KiB chunks: one system call for the first
            // slabs of a short-lived kind, and little of the filesystem taken. With less than a
            // chunk left on the filesystem, the exact range may still fit.
            m.allocate_chunks(&self.source, addr, len).map(|()| len).or_else(|e| match e.0 {
                libc::ENOSPC | libc::EDQUOT => exact(),
                _ => Err(e),
            })
        } else {
            // A large kind takes whole 2 MiB granules, one fallocate each (ext4 places each
            // 2 MiB-aligned on disk, so DAX maps them with PMD faults): no block allocation at a
            // fault. It does not fault them in: programs commit large buffers and touch part of
            // them (sort(1) under a 1:4 FS_DAX tier spent 34 s of system time writing zeroes
            // into page cache it never used), and on ext4 prefaulting saved no faults anyway
            // (fault-around and read-ahead map many pages per fault). `populate` does it on
            // request.
            // With less than a granule left on the filesystem, the exact range may still fit.
            m.allocate_blocks(&self.source, addr, len).or_else(|e| match e.0 {
                libc::ENOSPC | libc::EDQUOT => {
                    self.source.commit(m.offset_of(addr), len as u64).map(|()| len)
                }
                _ => Err(e),
            })
        };
        if let Err(e) = allocated {
            self.committed.fetch_sub(len, Ordering::Relaxed);
            if matches!(e.0, libc::ENOSPC | libc::EDQUOT) {
                self.full_at.store(sys::coarse_ms(), Ordering::Relaxed);
            }
            return Err(e.into());
        }
        // Under `noting`: a small kind's chunk write (above) must see these pages in use.
        let _noting = noting.unwrap_or_else(|| self.noting.lock());
        m.note_committed(addr, len, true);
        Ok(())
    }

    fn full_recently(&self) -> bool {
        let at = self.full_at.load(Ordering::Relaxed);
        at != 0 && sys::coarse_ms().wrapping_sub(at) < FULL_BACKOFF_MS
    }

    /// Whether a commit found the kind's filesystem full and the allocation's retry path
    /// should reclaim the freed space of every kind on it: at most once per back-off window.
    pub fn reclaim_ready(&self) -> bool {
        if self.full_at.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let now = sys::coarse_ms();
        let last = self.reclaimed_at.load(Ordering::Relaxed);
        now.wrapping_sub(last) >= FULL_BACKOFF_MS
            && self.reclaimed_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    /// Space was given back on the kind's filesystem: commits ask it again.
    pub fn clear_full(&self) {
        self.full_at.store(0, Ordering::Relaxed);
    }

    /// Applies `advice` to every morsel of the kind.
    fn advise_all(&self, advice: i32) {
        for r in self.lock().regions.iter() {
            if let Some(m) = &r.morsel {
                // SAFETY: the morsel is ours; read-ahead advice does not change contents.
                let _ = unsafe { sys::madvise(m.base(), m.len(), advice) };
            }
        }
    }

    /// Whether large allocations are populated in one batched call when they are made.
    pub fn eager(&self) -> bool {
        self.config.eager
    }

    /// Populates `[addr, addr+len)` (inside one morsel of ours) in batched calls.
    ///
    /// A huge kind populates a block smaller than [`helper::SPLIT_MIN`] together with the rest
    /// of its `SPLIT_MIN`-aligned window of the morsel: one call (split across the populate
    /// helper) then serves the next blocks carved after it, where populating granule by granule
    /// would leave the second CPU idle. The cost is at most one window of memory populated
    /// before jemalloc hands it out.
    ///
    /// In a file kind, the granules whose blocks a commit allocated are marked already: those
    /// are faulted in here without a second fallocate.
    pub fn populate(&self, addr: usize, len: usize) -> usize {
        settle_fork_if_pending();
        let Some(m) = self.morsel_at(addr) else { return 0 };
        let (mut from, mut to) = (addr, addr + len);
        if self.config.huge && self.source.backing() == Backing::Anon && len < helper::SPLIT_MIN {
            from = (addr & !(helper::SPLIT_MIN - 1)).max(m.base());
            to = (from + helper::SPLIT_MIN).max(to).min(m.base() + m.len());
        }
        if matches!(self.source.backing(), Backing::File | Backing::Memfd) {
            // The bitmap marks granules whose blocks exist, not whose pages are mapped: allocate
            // what is missing, then fault the whole range in once.
            let done = m.allocate_blocks(&self.source, from, to - from).unwrap_or(0);
            let _ = m.prefault(from, to - from);
            return done;
        }
        m.populate(&self.source, from, to - from).unwrap_or(0)
    }

    /// Marks the provider as dying: its arenas are about to be destroyed, and with them every
    /// mapping and the file, so the purges jemalloc makes on the way out are skipped.
    pub fn begin_teardown(&self) {
        self.dying.store(true, Ordering::Relaxed);
    }

    /// Gives `[addr, addr+len)` back; true if all of it was (jemalloc may then assume zeroes).
    fn give_back(&self, addr: usize, len: usize, how: Purge) -> bool {
        settle_fork_if_pending();
        if self.config.hog
            || self.config.fixed.is_some()
            || self.dying.load(Ordering::Relaxed)
            || self.orphaned.load(Ordering::Relaxed)
        {
            return false;
        }
        let Some(m) = self.morsel_at(addr) else { return false };
        if self.source.backing() == Backing::Hugetlb {
            // Only whole huge pages, and never a part: jemalloc would touch the rest again
            // without committing it, faulting on an empty pool.
            let whole = addr % GRANULE_SIZE == 0 && len % GRANULE_SIZE == 0;
            return whole && m.purge(&self.source, addr, len, how).is_ok();
        }
        if self.config.huge {
            let start = morsel::align_up(addr, GRANULE_SIZE).unwrap_or(usize::MAX);
            let end = (addr + len) & !(GRANULE_SIZE - 1);
            if end > start {
                let _ = m.purge(&self.source, start, end - start, how);
            }
            return start == addr && end == addr + len;
        }
        m.purge(&self.source, addr, len, how).unwrap_or(false)
    }

    fn decommit(&self, addr: usize, len: usize) -> bool {
        let done = self.give_back(addr, len, Purge::Forced);
        if done && !self.source.is_anonymous() {
            self.committed.fetch_sub(len, Ordering::Relaxed);
            if let Some(m) = self.morsel_at(addr) {
                m.note_committed(addr, len, false);
            }
        }
        done
    }

    fn purge(&self, addr: usize, len: usize, how: Purge) -> bool {
        // Only anonymous memory is purged in place. A purged range stays committed for
        // jemalloc, which reuses it without a commit: a hugetlb page would then fault on an
        // empty pool, and a punched file range be written without blocks (SIGBUS on a full
        // filesystem). Those give space back by decommit alone.
        if self.source.backing() != Backing::Anon {
            return false;
        }
        self.give_back(addr, len, how)
    }

    fn same_morsel(&self, a: usize, b: usize) -> bool {
        match (directory::lookup(a), directory::lookup(b)) {
            (Some(x), Some(y)) => std::ptr::eq(x, y),
            _ => false,
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        // SAFETY: a provider is dropped only after its arenas are destroyed. Its source (and
        // file, whose blocks go with it) is dropped right after, so no hole punching.
        unsafe { self.release_all(false) };
    }
}

/// The provider behind a hooks pointer.
///
/// # Safety
/// `hooks` must be the `hooks` field of a live `Provider`, as every arena we create passes.
unsafe fn provider<'a>(hooks: *mut je::extent_hooks_t) -> &'a Provider {
    // SAFETY: `hooks` is the first field of a repr(C) Provider, so the pointers coincide.
    unsafe { &*(hooks as *const Provider) }
}

/// Runs a hook body; a panic becomes the hook's failure value instead of unwinding into C.
/// errno is left as the hook found it: hooks answer by their return value, and a system call
/// that failed on the way to a success (a reservation that fell back to a smaller one) must
/// not show through the allocation that succeeded (jemalloc sets ENOMEM itself on failure).
fn guard<T>(fail: T, f: impl FnOnce() -> T) -> T {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    let slot = unsafe { libc::__errno_location() };
    // SAFETY: as above.
    let saved = unsafe { *slot };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(fail);
    // SAFETY: as above.
    unsafe { *slot = saved };
    r
}

unsafe extern "C" fn hook_alloc(
    hooks: *mut je::extent_hooks_t,
    new_addr: *mut c_void,
    size: usize,
    alignment: usize,
    zero: *mut bool,
    commit: *mut bool,
    _arena: libc::c_uint,
) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        // SAFETY: jemalloc passes our hooks and valid out-pointers.
        let (p, zero, commit) = unsafe { (provider(hooks), &mut *zero, &mut *commit) };
        p.alloc(new_addr as usize, size, alignment, zero, commit) as *mut c_void
    })
}

unsafe extern "C" fn hook_dalloc(
    _: *mut je::extent_hooks_t,
    _: *mut c_void,
    _: usize,
    _: bool,
    _: libc::c_uint,
) -> bool {
    // Opt out: jemalloc keeps the address space; the kind unmaps its morsels when destroyed.
    true
}

unsafe extern "C" fn hook_destroy(
    _: *mut je::extent_hooks_t,
    _: *mut c_void,
    _: usize,
    _: bool,
    _: libc::c_uint,
) {
}

/// The commit, decommit and purge hooks share one shape: a range inside an extent, and `true`
/// for "not done". Each is this trampoline around one provider method.
macro_rules! range_hook {
    ($name:ident, |$p:ident, $at:ident, $len:ident| $done:expr) => {
        unsafe extern "C" fn $name(
            hooks: *mut je::extent_hooks_t,
            addr: *mut c_void,
            _size: usize,
            offset: usize,
            $len: usize,
            _arena: libc::c_uint,
        ) -> bool {
            guard(true, || {
                // SAFETY: jemalloc passes our hooks.
                let $p = unsafe { provider(hooks) };
                let $at = addr as usize + offset;
                !$done
            })
        }
    };
}

range_hook!(hook_commit, |p, at, len| p.commit(at, len).is_ok());
range_hook!(hook_decommit, |p, at, len| p.decommit(at, len));
range_hook!(hook_purge_lazy, |p, at, len| p.purge(at, len, Purge::Lazy));
range_hook!(hook_purge_forced, |p, at, len| p.purge(at, len, Purge::Forced));

unsafe extern "C" fn hook_split(
    _: *mut je::extent_hooks_t,
    _: *mut c_void,
    _: usize,
    _: usize,
    _: usize,
    _: bool,
    _: libc::c_uint,
) -> bool {
    false
}

unsafe extern "C" fn hook_merge(
    hooks: *mut je::extent_hooks_t,
    addr_a: *mut c_void,
    _size_a: usize,
    addr_b: *mut c_void,
    _size_b: usize,
    _committed: bool,
    _arena: libc::c_uint,
) -> bool {
    guard(true, || {
        // SAFETY: jemalloc passes our hooks.
        !unsafe { provider(hooks) }.same_morsel(addr_a as usize, addr_b as usize)
    })
}

const HOOKS: je::extent_hooks_t = je::extent_hooks_t {
    alloc: Some(hook_alloc),
    dalloc: Some(hook_dalloc),
    destroy: Some(hook_destroy),
    commit: Some(hook_commit),
    decommit: Some(hook_decommit),
    purge_lazy: Some(hook_purge_lazy),
    purge_forced: Some(hook_purge_forced),
    split: Some(hook_split),
    merge: Some(hook_merge),
};
