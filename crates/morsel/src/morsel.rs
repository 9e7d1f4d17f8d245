//! The morsel: a naturally aligned region of one or more page-table subtrees, from one source.
//!
//! Every operation is O(1) in system calls whatever the size: one `mmap` to map, one `mbind`
//! to place, one batched call per run of unpopulated granules to populate, one call to purge.
//! A morsel never unmaps or purges memory outside its own range.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::caps::caps;
use crate::id::MorselId;
use crate::order::{Order, GRANULE_SIZE, PAGE_SIZE};
use crate::source::{Backing, Source};
use crate::sys::{self, Errno, SysResult};

/// One bit per granule: set once the granule is known to be populated. Updated with atomic
/// fetch-or, so concurrent populate calls claim each granule exactly once; a caller that loses
/// the race simply skips the granule (its pages fault in normally if touched before the winner
/// finishes, which is harmless).
struct PopulationMap {
    /// A 1 GiB morsel keeps its granule and chunk bits here, with no mapping of its own.
    inline: [AtomicU64; INLINE_WORDS],
    /// Larger morsels keep them in pages of their own (not the Rust heap: morsels are made
    /// inside allocator hooks); null when inline.
    words: *mut AtomicU64,
    nwords: usize,
    map_len: usize,
}

/// Enough for a 1 GiB morsel's granules (8 words) and chunks (64 words) without a mapping.
const INLINE_WORDS: usize = 64;

/// The unit in which a small file kind allocates blocks: a few system calls serve the slabs of
/// a short-lived kind (about 26 slabs, 320 KiB, per 100 allocations of mixed sizes), while a
/// kind that touches 10 KiB still takes little of the filesystem. 16 pages: a chunk's pages
/// lie in one word of the committed-page map, and ext4 writes it as one large folio.
pub const CHUNK: usize = 16 * PAGE_SIZE;
const _: () =
    assert!(CHUNK / PAGE_SIZE <= 64 && 64 % (CHUNK / PAGE_SIZE) == 0, "a chunk's pages lie in one word");

// SAFETY: the words are atomics, inline or in a private mapping owned by the map.
unsafe impl Send for PopulationMap {}
// SAFETY: all access goes through atomics.
unsafe impl Sync for PopulationMap {}

impl PopulationMap {
    fn new(granules: usize) -> SysResult<PopulationMap> {
        let nwords = granules.div_ceil(64);
        let inline = [const { AtomicU64::new(0) }; INLINE_WORDS];
        if nwords <= INLINE_WORDS {
            return Ok(PopulationMap { inline, words: std::ptr::null_mut(), nwords, map_len: 0 });
        }
        let map_len = (nwords * 8).next_multiple_of(PAGE_SIZE);
        let addr = sys::map_anon(map_len)?;
        Ok(PopulationMap { inline, words: addr as *mut AtomicU64, nwords, map_len })
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        assert!(i < self.nwords);
        if self.words.is_null() {
            return &self.inline[i];
        }
        // SAFETY: `i` is in bounds and the mapping lives as long as `self`; zeroed pages are
        // valid AtomicU64 values.
        unsafe { &*self.words.add(i) }
    }

    /// Claims granule `g`; true if this caller set the bit.
    fn claim(&self, g: usize) -> bool {
        let bit = 1u64 << (g % 64);
        self.word(g / 64).fetch_or(bit, Ordering::AcqRel) & bit == 0
    }

    fn clear(&self, g: usize) {
        self.word(g / 64).fetch_and(!(1u64 << (g % 64)), Ordering::AcqRel);
    }

    fn is_set(&self, g: usize) -> bool {
        self.word(g / 64).load(Ordering::Acquire) & (1u64 << (g % 64)) != 0
    }

    /// Sets (or clears) bits `[from, to)`, a word at a time.
    fn set_range(&self, from: usize, to: usize, on: bool) {
        let mut i = from;
        while i < to {
            let w = i / 64;
            let hi = (to - w * 64).min(64);
            let lo = i % 64;
            let mask = if hi - lo == 64 { !0 } else { ((1u64 << (hi - lo)) - 1) << lo };
            if on {
                self.word(w).fetch_or(mask, Ordering::AcqRel);
            } else {
                self.word(w).fetch_and(!mask, Ordering::AcqRel);
            }
            i = w * 64 + hi;
        }
    }

    fn load(&self, w: usize) -> u64 {
        self.word(w).load(Ordering::Acquire)
    }
}

impl Drop for PopulationMap {
    fn drop(&mut self) {
        if !self.words.is_null() {
            // SAFETY: the map owns its pages and nothing refers to them after drop.
            let _ = unsafe { sys::unmap(self.words as usize, self.map_len) };
        }
    }
}

/// A naturally aligned region of address space, mapped from one source.
pub struct Morsel {
    base: usize,
    len: usize,
    order: Order,
    offset: u64,
    backing: Backing,
    source_index: u16,
    granule: usize,
    population: PopulationMap,
    /// File morsels: one bit per page that jemalloc holds committed (blocks allocated), so a
    /// forked child's copy can reserve exactly what it inherited (see `crate::fork`).
    committed: Option<PopulationMap>,
    /// File morsels: one bit per [`CHUNK`] whose file blocks a small kind has allocated whole
    /// (see [`Morsel::allocate_chunks`]).
    chunks: Option<PopulationMap>,
    populate_calls: AtomicU64,
    populate_bytes: AtomicU64,
}

impl std::fmt::Debug for Morsel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Morsel")
            .field("base", &format_args!("{:#x}", self.base))
            .field("len", &self.len)
            .field("order", &self.order)
            .field("offset", &self.offset)
            .finish()
    }
}

/// How a purge gives memory back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purge {
    /// The contents are gone at once (`MADV_DONTNEED`, or a punched hole for files).
    Forced,
    /// The kernel may reclaim the pages when it needs them (`MADV_FREE`); private anonymous
    /// memory only. Other sources treat it as `Forced`.
    Lazy,
}

impl Morsel {
    /// Creates a morsel of `order` spanning `len` bytes (a multiple of the order's size), whose
    /// address is aligned to `align` (at least the order's size): reserves address space,
    /// takes a file frame aligned to the order for file sources, and maps it with one `mmap`.
    /// Memory is committed lazily, by faults or by [`Morsel::populate`].
    pub fn create(source: &Source, order: Order, len: usize, align: usize) -> SysResult<Morsel> {
        if len == 0 || len % order.size() != 0 || !align.is_power_of_two() || align < order.size() {
            return Err(Errno(libc::EINVAL));
        }
        let base = sys::reserve(len, align)?;
        Morsel::map_reserved(source, order, len, base)
    }

    /// Creates a morsel of `order` spanning `len` bytes (a multiple of the order's size) to be
    /// shared with other processes at the same address: as [`Morsel::create`], but placed at a
    /// random aligned address between 16 TiB and 80 TiB, far below where the kernel puts
    /// mappings (top-down from about 128 TiB) and far above programs and their heaps, so that
    /// another process, even one forked from this one before, almost never has anything there
    /// and can map the same range ([`sys::map_shared_noreplace`]). Where sixteen tries find
    /// the range taken, it goes wherever the kernel likes.
    pub fn create_window(source: &Source, order: Order, len: usize) -> SysResult<Morsel> {
        const LOW: usize = 16 << 40;
        const HIGH: usize = 80 << 40;
        let align = order.size();
        if len == 0 || len % align != 0 || len > (HIGH - LOW) / 2 {
            return Err(Errno(libc::EINVAL));
        }
        let slots = ((HIGH - LOW - len) / align) as u64;
        let base = (0..16)
            .map(|_| LOW + (sys::random_u64() % slots) as usize * align)
            .find(|&at| sys::reserve_at(at, len).is_ok());
        let base = match base {
            Some(b) => b,
            None => sys::reserve(len, align)?,
        };
        Morsel::map_reserved(source, order, len, base)
    }

    /// Maps a frame of `source` over the reservation `[base, base+len)` (taken over: unmapped
    /// on failure).
    fn map_reserved(source: &Source, order: Order, len: usize, base: usize) -> SysResult<Morsel> {
        let granule = GRANULE_SIZE.min(order.size());
        let maps = || -> SysResult<_> {
            let population = PopulationMap::new(len / granule)?;
            let (committed, chunks) = match source.backing() {
                Backing::File | Backing::Memfd => (
                    Some(PopulationMap::new(len / PAGE_SIZE)?),
                    Some(PopulationMap::new(len.div_ceil(CHUNK))?),
                ),
                _ => (None, None),
            };
            Ok((population, committed, chunks))
        };
        let (population, committed, chunks) = match maps() {
            Ok(m) => m,
            Err(e) => {
                // SAFETY: the reservation is ours and not yet shared.
                let _ = unsafe { sys::unmap(base, len) };
                return Err(e);
            }
        };
        let offset = match source.take_frame(order, len) {
            Ok(o) => o,
            Err(e) => {
                // SAFETY: the reservation is ours and not yet shared.
                let _ = unsafe { sys::unmap(base, len) };
                return Err(e);
            }
        };
        let mapped = match (source.fd(), source.backing()) {
            // SAFETY: `base..base+len` is our fresh reservation.
            (Some(fd), _) => unsafe { sys::map_file_fixed(base, len, fd, offset) },
            // SAFETY: as above; aligned to at least 2 MiB since the order is at least Pmd.
            (None, Backing::Hugetlb) if order >= Order::Pmd => unsafe { sys::map_hugetlb_fixed(base, len) },
            (None, Backing::Hugetlb) => Err(Errno(libc::EINVAL)),
            // SAFETY: `base..base+len` is our fresh reservation.
            (None, _) => unsafe { sys::map_anon_fixed(base, len) },
        };
        if let Err(e) = mapped {
            source.release_frame(order, offset, len);
            // SAFETY: the reservation is ours and unused.
            let _ = unsafe { sys::unmap(base, len) };
            return Err(e);
        }
        Ok(Morsel {
            base,
            len,
            order,
            offset,
            backing: source.backing(),
            source_index: source.index(),
            granule,
            population,
            committed,
            chunks,
            populate_calls: AtomicU64::new(0),
            populate_bytes: AtomicU64::new(0),
        })
    }

    /// The first address.
    pub fn base(&self) -> usize {
        self.base
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: a morsel has at least one page. (Present for clippy's `len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The order.
    pub fn order(&self) -> Order {
        self.order
    }

    /// The file offset of the first byte (0 for anonymous memory).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether `addr` lies inside.
    pub fn contains(&self, addr: usize) -> bool {
        addr.wrapping_sub(self.base) < self.len
    }

    /// The file offset of `addr`, which must lie inside.
    pub fn offset_of(&self, addr: usize) -> u64 {
        self.offset + (addr - self.base) as u64
    }

    /// The self-contained handle (for anonymous memory the frame is the address).
    pub fn id(&self) -> MorselId {
        let anonymous = matches!(self.backing, Backing::Anon | Backing::Hugetlb);
        let frame = if anonymous { self.base as u64 } else { self.offset };
        MorselId::new(self.order, self.source_index, frame, false).expect("aligned by construction")
    }

    fn check_range(&self, addr: usize, len: usize) -> SysResult<()> {
        if addr < self.base || len > self.len || addr - self.base > self.len - len {
            Err(Errno(libc::EINVAL))
        } else {
            Ok(())
        }
    }

    /// Applies a NUMA policy (`sys::MPOL_*` and a node mask) to the whole morsel, in one call.
    pub fn bind(&self, mode: i32, mask: &[u64]) -> SysResult<()> {
        // SAFETY: the whole morsel is ours.
        unsafe { sys::mbind(self.base, self.len, mode, mask) }
    }

    /// Marks the morsel for transparent huge pages (`MADV_HUGEPAGE`).
    pub fn advise_huge(&self) -> SysResult<()> {
        // SAFETY: the whole morsel is ours; the advice does not change contents.
        unsafe { sys::madvise(self.base, self.len, libc::MADV_HUGEPAGE) }
    }

    /// Populates `[addr, addr+len)`, rounded out to whole granules, in batched calls: one
    /// `fallocate` per granule (files) and one `MADV_POPULATE_WRITE` per run of granules this
    /// caller claimed (a long anonymous run split with the populate helper thread, see `helper`).
    /// Granules already populated, or claimed by a concurrent caller, are skipped. Returns the
    /// number of bytes this call populated.
    pub fn populate(&self, source: &Source, addr: usize, len: usize) -> SysResult<usize> {
        self.claim_run(source, addr, len, true)
    }

    /// Faults `[addr, addr+len)` in for writing (`MADV_POPULATE_WRITE`, whole pages), whatever the
    /// population bitmap says: for file kinds, whose bitmap marks granules whose blocks are
    /// allocated, not necessarily mapped.
    pub fn prefault(&self, addr: usize, len: usize) -> SysResult<()> {
        self.check_range(addr, len)?;
        if len == 0 || !caps().populate_write {
            return Ok(());
        }
        let start = addr & !(crate::PAGE_SIZE - 1);
        let end = (addr + len).div_ceil(crate::PAGE_SIZE) * crate::PAGE_SIZE;
        // SAFETY: the range lies inside this morsel; populating does not change contents.
        unsafe { sys::madvise(start, end - start, sys::MADV_POPULATE_WRITE) }
    }

    /// Allocates the file blocks of `[addr, addr+len)`, rounded out to whole granules, with one
    /// `fallocate` per granule not yet claimed, without faulting pages in. Anonymous
    /// memory needs nothing (0 is returned). Returns the bytes this call allocated.
    pub fn allocate_blocks(&self, source: &Source, addr: usize, len: usize) -> SysResult<usize> {
        if matches!(self.backing, Backing::Anon | Backing::Hugetlb) {
            return Ok(0);
        }
        self.claim_run(source, addr, len, false)
    }

    /// Allocates the file blocks of `[addr, addr+len)`, rounded out to whole [`CHUNK`]s, one
    /// `fallocate` per chunk not yet claimed: a small file kind's commits on tmpfs. A chunk whose
    /// allocation fails is left unclaimed and the error returned.
    pub fn allocate_chunks(&self, source: &Source, addr: usize, len: usize) -> SysResult<()> {
        self.check_range(addr, len)?;
        let Some(chunks) = &self.chunks else { return Ok(()) };
        if len == 0 {
            return Ok(());
        }
        let first = (addr - self.base) / CHUNK;
        let last = (addr - self.base + len - 1) / CHUNK;
        for c in first..=last {
            if chunks.claim(c) {
                let start = c * CHUNK;
                let end = (start + CHUNK).min(self.len);
                if let Err(e) = source.commit(self.offset + start as u64, (end - start) as u64) {
                    chunks.clear(c);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Reserves the file blocks of `[addr, addr+len)` by writing zeroes: a small kind's commits
    /// on a disk filesystem (see [`Source::commit_by_writing`]). A [`CHUNK`] no page of which is
    /// committed is written whole and marked, so later commits inside it need no system call,
    /// and one large write costs less than many small ones (ext4 fills it with large folios:
    /// 74 µs against 278 µs per 320 KiB written 4 KiB at a time, and a third of the cost when
    /// the file goes). In a chunk some page of which is committed, only the range is written:
    /// zeroes would destroy what that page holds.
    ///
    /// The caller serialises this with every [`Morsel::note_committed`] that sets bits in the
    /// morsel, and notes `[addr, addr+len)` committed before anyone else may look: between
    /// the check and the write no other commit may hand a page of the chunk out.
    pub fn write_chunks(&self, source: &Source, addr: usize, len: usize) -> SysResult<()> {
        self.check_range(addr, len)?;
        let (Some(chunks), Some(committed)) = (&self.chunks, &self.committed) else { return Ok(()) };
        if len == 0 {
            return Ok(());
        }
        let per_chunk = CHUNK / PAGE_SIZE;
        let (from, to) = (addr - self.base, addr - self.base + len);
        for c in from / CHUNK..=(to - 1) / CHUNK {
            if chunks.is_set(c) {
                continue;
            }
            let (start, end) = (c * CHUNK, ((c + 1) * CHUNK).min(self.len));
            let first_page = c * per_chunk;
            let mask = ((1u64 << per_chunk) - 1) << (first_page % 64);
            let in_use = committed.load(first_page / 64) & mask != 0;
            if !in_use && source.commit_by_writing(self.offset + start as u64, (end - start) as u64).is_ok() {
                chunks.set_range(c, c + 1, true);
                continue;
            }
            // Part of the chunk is in use, or the filesystem has no room for all of it: the
            // range alone may still fit.
            let (a, b) = (from.max(start), to.min(end));
            source.commit_by_writing(self.offset + a as u64, (b - a) as u64)?;
        }
        Ok(())
    }

    fn claim_run(&self, source: &Source, addr: usize, len: usize, prefault: bool) -> SysResult<usize> {
        self.check_range(addr, len)?;
        if len == 0 {
            return Ok(0);
        }
        let first = (addr - self.base) / self.granule;
        let last = (addr - self.base + len - 1) / self.granule;
        let mut done = 0;
        let mut run_start = None;
        for g in first..=last + 1 {
            let claimed = g <= last && self.claim_granule(g);
            match (claimed, run_start) {
                (true, None) => run_start = Some(g),
                (false, Some(s)) => {
                    done += self.populate_run(source, s, g, prefault).inspect_err(|_| {
                        (s..g).for_each(|i| self.population.clear(i));
                    })?;
                    run_start = None;
                }
                _ => {}
            }
        }
        Ok(done)
    }

    fn claim_granule(&self, g: usize) -> bool {
        self.population.claim(g)
    }

    fn populate_run(&self, source: &Source, from: usize, to: usize, prefault: bool) -> SysResult<usize> {
        let start = self.base + from * self.granule;
        let len = (to - from) * self.granule;
        if !matches!(self.backing, Backing::Anon | Backing::Hugetlb) {
            // One fallocate per granule: ext4 places a request of exactly one granule
            // 2 MiB-aligned on disk (which DAX needs for PMD faults); a longer run is placed
            // first-fit, often misaligned.
            for at in (start..start + len).step_by(self.granule) {
                source.commit(self.offset_of(at), self.granule as u64)?;
            }
        }
        // Hugetlb pages must be taken here, where an empty pool is an error, not a SIGBUS later.
        if prefault && (caps().populate_write || self.backing == Backing::Hugetlb) {
            // Anonymous memory splits a long run with the helper thread; a shared file mapping
            // does not (two threads faulting one file contend in the filesystem: measured on
            // ext4, 6x the faults and slower than one thread).
            if matches!(self.backing, Backing::Anon | Backing::Hugetlb) {
                // SAFETY: the range lies inside this morsel; populating does not change contents.
                unsafe { crate::helper::populate_write(start, len, self.granule)? };
            } else {
                // SAFETY: as above.
                unsafe { sys::madvise(start, len, sys::MADV_POPULATE_WRITE)? };
            }
        }
        self.populate_calls.fetch_add(1, Ordering::Relaxed);
        self.populate_bytes.fetch_add(len as u64, Ordering::Relaxed);
        Ok(len)
    }

    /// Whether granule `g` is marked populated.
    pub fn is_populated(&self, g: usize) -> bool {
        self.population.is_set(g)
    }

    /// The granule size of this morsel (2 MiB, or the morsel's size if smaller).
    pub fn granule(&self) -> usize {
        self.granule
    }

    /// (calls, bytes) of populate work done so far.
    pub fn populate_counters(&self) -> (u64, u64) {
        (self.populate_calls.load(Ordering::Relaxed), self.populate_bytes.load(Ordering::Relaxed))
    }

    /// Marks `[addr, addr+len)` as committed by the caller without populating it (the caller
    /// is about to fallocate it itself); only whole granules count.
    pub fn clear_population(&self, addr: usize, len: usize) {
        if len == 0 || self.check_range(addr, len).is_err() {
            return;
        }
        let first = (addr - self.base) / self.granule;
        let last = (addr - self.base + len - 1) / self.granule;
        (first..=last).for_each(|g| self.population.clear(g));
        if let Some(chunks) = &self.chunks {
            let first = (addr - self.base) / CHUNK;
            let last = (addr - self.base + len - 1) / CHUNK;
            (first..=last).for_each(|c| chunks.clear(c));
        }
    }

    /// Records that `[addr, addr+len)` (whole pages inside the morsel) is committed (`on`) or
    /// no longer; file morsels only, others ignore it.
    pub fn note_committed(&self, addr: usize, len: usize, on: bool) {
        if let Some(map) = &self.committed {
            if len != 0 && self.check_range(addr, len).is_ok() {
                let first = (addr - self.base) / PAGE_SIZE;
                map.set_range(first, first + len.div_ceil(PAGE_SIZE), on);
            }
        }
    }

    /// Calls `f(addr, len)` for each run of pages whose file blocks the morsel holds allocated:
    /// committed pages, and the whole of every chunk and granule claimed. A forked child reserves
    /// these in its own copy.
    pub fn for_each_reserved_run<E>(
        &self,
        mut f: impl FnMut(usize, usize) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(map) = &self.committed else { return Ok(()) };
        let pages = self.len / PAGE_SIZE;
        let per_granule = self.granule / PAGE_SIZE;
        let mut run: Option<usize> = None;
        for w in 0..pages.div_ceil(64) {
            let first = w * 64;
            let mut bits = map.load(w);
            if let Some(chunks) = &self.chunks {
                // The chunks that overlap this word's 64 pages, whole.
                let per_chunk = CHUNK / PAGE_SIZE;
                let mask = if per_chunk >= 64 { !0 } else { (1u64 << per_chunk) - 1 };
                for c in (first / per_chunk)..=((first + 63) / per_chunk).min(chunks.nwords * 64 - 1) {
                    if chunks.is_set(c) {
                        bits |= mask << ((c * per_chunk) % 64);
                    }
                }
            }
            if per_granule >= 64 && self.population.is_set(first / per_granule) {
                bits = !0;
            }
            for b in 0..64.min(pages - first) {
                let on = bits >> b & 1 == 1;
                let page = first + b;
                match (on, run) {
                    (true, None) => run = Some(page),
                    (false, Some(start)) => {
                        f(self.base + start * PAGE_SIZE, (page - start) * PAGE_SIZE)?;
                        run = None;
                    }
                    _ => {}
                }
            }
        }
        if let Some(start) = run {
            f(self.base + start * PAGE_SIZE, (pages - start) * PAGE_SIZE)?;
        }
        Ok(())
    }

    /// Gives the memory of `[addr, addr+len)` back: anonymous pages are dropped (or freed
    /// lazily), file space is punched out. Contents read back as zero afterwards (after a lazy
    /// purge: zero or the old contents). Returns false where the source could not give the
    /// space back (a filesystem without hole punching), in which case only the mapping's pages
    /// were dropped.
    pub fn purge(&self, source: &Source, addr: usize, len: usize, how: Purge) -> SysResult<bool> {
        self.check_range(addr, len)?;
        self.clear_population(addr, len);
        if self.backing == Backing::Hugetlb {
            // SAFETY: the range lies inside this morsel, whose owner asked for its contents to go.
            unsafe { sys::madvise(addr, len, libc::MADV_DONTNEED)? };
            return Ok(true);
        }
        if self.backing == Backing::Anon {
            let advice = if how == Purge::Lazy { libc::MADV_FREE } else { libc::MADV_DONTNEED };
            // SAFETY: the range lies inside this morsel, whose owner asked for its contents to go.
            unsafe { sys::madvise(addr, len, advice)? };
            return Ok(true);
        }
        if source.punch(self.offset_of(addr), len as u64) {
            return Ok(true);
        }
        // SAFETY: as above; the file keeps the data but this mapping drops its pages.
        unsafe { sys::madvise(addr, len, libc::MADV_DONTNEED)? };
        Ok(false)
    }

    /// Changes access rights (`PROT_*`) for a range of the morsel.
    ///
    /// # Safety
    /// Taking rights away from memory that is in use makes its users fault.
    pub unsafe fn protect(&self, addr: usize, len: usize, prot: i32) -> SysResult<()> {
        self.check_range(addr, len)?;
        // SAFETY: the range lies inside this morsel; the caller vouches for its users.
        unsafe { sys::protect(addr, len, prot) }
    }

    /// Destroys the morsel: gives its file space back and unmaps it. Consuming `self` makes the
    /// order of destruction the caller's: children before their parent.
    ///
    /// # Safety
    /// No pointer into the morsel may be used afterwards.
    pub unsafe fn destroy(self, source: &Source) -> SysResult<()> {
        source.release_frame(self.order, self.offset, self.len);
        // SAFETY: forwarded from the caller.
        unsafe { self.unmap() }
    }

    /// Unmaps the morsel without giving its file space back: for a source about to be closed,
    /// whose blocks the filesystem frees with the file.
    ///
    /// # Safety
    /// No pointer into the morsel may be used afterwards.
    pub unsafe fn unmap(self) -> SysResult<()> {
        // SAFETY: the morsel owns its range and the caller guarantees it is no longer used.
        unsafe { sys::unmap(self.base, self.len) }
    }
}

/// A morsel mapped into this process from another's shareable source, by id and fd.
pub struct SharedMapping {
    addr: usize,
    len: usize,
}

impl SharedMapping {
    /// Maps the morsel `id` of the file `fd` (a memfd or a file source of another process).
    pub fn attach(fd: std::os::fd::BorrowedFd<'_>, id: MorselId) -> SysResult<SharedMapping> {
        let len = id.order().size();
        let addr = sys::map_file_anywhere(len, fd, id.offset())?;
        Ok(SharedMapping { addr, len })
    }

    /// The address of the first byte.
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// The length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours; dropping it ends every borrow of its memory.
        let _ = unsafe { sys::unmap(self.addr, self.len) };
    }
}
