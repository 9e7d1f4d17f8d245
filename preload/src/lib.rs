//! libmorseltier: runs an unmodified program on tiered memory through `LD_PRELOAD`, configured
//! by MEMKIND_MEM_TIERS and MEMKIND_MEM_THRESHOLDS exactly like memkind's libmemtier
//! (`man 7 libmemtier`).
//!
//! It interposes the whole malloc family (malloc, calloc, realloc, reallocarray, free,
//! posix_memalign, aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size) with glibc's
//! semantics: malloc(0) gives a unique pointer, realloc(p, 0) frees p and returns NULL, a failure
//! sets ENOMEM. The tier of each allocation is the `memtier` policy's pick; realloc keeps a
//! block in its tier.
//!
//! # Whose pointer is it?
//! A pointer is ours when morselkind's directory says so (`Kind::detect`, two loads, no lock).
//! Everything else belongs to glibc's own allocator: blocks allocated before our constructor
//! ran, while it ran, or by our own re-entrant calls. Those go back to glibc through its
//! `__libc_*` entry points (never through `libc::free`, which is this library's own `free`).
//!
//! # Never through the malloc we interpose
//! This library's Rust code allocates from morselkind's own anonymous pages (the
//! `#[global_allocator]` below wraps `morselkind::MetaAlloc`), so std's own allocations
//! (environment, topology, formatting, OnceLock) never come back here. C code we call can
//! still call malloc: opendir while reading the topology, glibc registering a thread-local
//! destructor, dlsym, pthread_atfork. A thread-local flag marks the thread as inside our code
//! while we initialise or allocate, and a nested call then goes straight to glibc's allocator,
//! whose blocks `free` recognises (not ours) and returns to glibc. Nested calls do not go to
//! MetaAlloc: jemalloc cannot tell safely whether a pointer is its own, so `free` could not
//! route such a block back; glibc is the one allocator every unknown pointer can go to.
//!
//! # fork
//! File tiers are shared mappings; a forked child gets its own copy of them (see [`fork`]).
//!
//! # Start and exit
//! The constructor reads the configuration. Without MEMKIND_MEM_TIERS the program runs on DRAM
//! with one warning; a malformed configuration prints one message and exits with status 2
//! (never an abort). At exit (a destructor, after the program's own), when
//! MORSELKIND_TIER_REPORT names a file, one line per tier is appended to it: what the tier
//! received (`morselkind run` reads and sums them, over every process of the run).
#![deny(unsafe_op_in_unsafe_fn)]

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicUsize, Ordering};

mod batch;
mod fork;

use allocator_api2::alloc::Allocator;
use memtier::{counters, Spec, Tiering};
use morselkind::Kind;
/// How the fast paths reach the thread's caches: initial-exec TLS, one load. This library is
/// loaded with the program (LD_PRELOAD, or `morselkind run`), never `dlopen`ed, so its
/// thread-locals have a static offset; libmorselkind.so keeps TLS descriptors.
pub(crate) type Tls = morselkind::TlsInitialExec;
use morselkind::MetaAlloc;

// ---- the library's own heap ----

/// Rust allocations of this library: jemalloc's automatic arenas, never the interposed malloc.
struct OwnHeap;

// SAFETY: MetaAlloc returns blocks of the layout's size and alignment, valid until freed.
unsafe impl GlobalAlloc for OwnHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        MetaAlloc.allocate(layout).map_or(std::ptr::null_mut(), |p| p.as_ptr().cast())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        MetaAlloc.allocate_zeroed(layout).map_or(std::ptr::null_mut(), |p| p.as_ptr().cast())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: the caller passes a block of this allocator with its layout.
            unsafe { MetaAlloc.deallocate(p, layout) }
        }
    }
}

#[global_allocator]
static OWN_HEAP: OwnHeap = OwnHeap;

/// jemalloc's run-time options (`malloc_conf`, prefixed; jemalloc's own definition is weak).
/// The workspace builds jemalloc with background purging threads on by default; a preloaded
/// program must not get a hidden thread in every process it starts (shells fork and exec
/// hundreds), so this library turns them off. Unused pages are purged on the allocation path
/// by jemalloc's decay instead.
#[repr(transparent)]
pub struct MallocConf(*const c_char);

// SAFETY: a pointer to a static, immutable C string.
unsafe impl Sync for MallocConf {}

#[no_mangle]
#[allow(non_upper_case_globals)]
pub static _rjem_malloc_conf: MallocConf = MallocConf(c"background_thread:false".as_ptr());

// ---- glibc's allocator ----

extern "C" {
    fn __libc_malloc(size: usize) -> *mut c_void;
    fn __libc_calloc(num: usize, size: usize) -> *mut c_void;
    fn __libc_realloc(ptr: *mut c_void, size: usize) -> *mut c_void;
    fn __libc_free(ptr: *mut c_void);
    fn __libc_memalign(align: usize, size: usize) -> *mut c_void;
}

/// glibc's `malloc_usable_size`, found with dlsym(RTLD_NEXT) at start-up (glibc exports no
/// `__libc_` name for it).
static LIBC_USABLE_SIZE: AtomicUsize = AtomicUsize::new(0);

type UsableSizeFn = unsafe extern "C" fn(*mut c_void) -> usize;

fn find_libc_usable_size() {
    // SAFETY: dlsym with a static NUL-terminated name; RTLD_NEXT finds the next definition
    // after this library, glibc's. It may allocate; the caller holds the re-entrancy flag, or
    // start-up has not happened (and glibc serves every allocation).
    let f = unsafe { libc::dlsym(libc::RTLD_NEXT, c"malloc_usable_size".as_ptr()) };
    LIBC_USABLE_SIZE.store(f as usize, Ordering::Release);
}

/// The usable size of a block of glibc's.
///
/// # Safety
/// `p` is a live block of glibc's allocator.
unsafe fn libc_usable_size(p: *mut c_void) -> usize {
    let mut f = LIBC_USABLE_SIZE.load(Ordering::Acquire);
    if f == 0 {
        // Asked before start-up (another library's constructor): find it now. dlsym may
        // allocate; before start-up that goes to glibc anyway.
        find_libc_usable_size();
        f = LIBC_USABLE_SIZE.load(Ordering::Acquire);
        if f == 0 {
            return 0;
        }
    }
    // SAFETY: the address was returned by dlsym for a function of this signature.
    let f: UsableSizeFn = unsafe { std::mem::transmute::<usize, UsableSizeFn>(f) };
    // SAFETY: the caller passes a live glibc block.
    unsafe { f(p) }
}

// ---- state ----

const UNINIT: u8 = 0;
const STARTING: u8 = 1;
const READY: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNINIT);
static TIERING: AtomicPtr<Tiering> = AtomicPtr::new(std::ptr::null_mut());
/// MORSELKIND_TIER_REPORT, kept from start-up (a leaked C string), or null.
static REPORT_PATH: AtomicPtr<c_char> = AtomicPtr::new(std::ptr::null_mut());
/// MEMKIND_MEM_TIERING_LOG_LEVEL.
static LOG_LEVEL: AtomicU8 = AtomicU8::new(0);
/// One tier, and nobody reads the counts (no report file, no MORSELKIND_DEBUG): every call goes
/// straight to the tier's kind, with no usable-size query and no counting. A single tier's
/// policy never reads its counts, so placement is the same.
static UNCOUNTED: AtomicBool = AtomicBool::new(false);
/// Several tiers, placed and counted in per-thread batches (see [`batch`]).
static BATCHED: AtomicBool = AtomicBool::new(false);
/// UNCOUNTED with MEMKIND_DEFAULT as the only tier (a DRAM-only spec): malloc and free try
/// DEFAULT's thread cache first, on one flag, and keep everything else out of line.
static SOLE_DEFAULT: AtomicBool = AtomicBool::new(false);

/// The only tier's kind when calls go straight to it (see [`UNCOUNTED`]).
#[inline(always)]
fn uncounted(t: &Tiering) -> Option<Kind> {
    if UNCOUNTED.load(Ordering::Relaxed) {
        t.memory.tiers().first().map(|tier| tier.kind)
    } else {
        None
    }
}

thread_local! {
    /// The thread is inside this library (initialising or allocating): a nested malloc goes to
    /// glibc.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Marks the thread as inside this library until dropped; `None` if it already was (a nested
/// call) or has no thread-local storage any more.
struct Inside;

impl Inside {
    #[inline(always)]
    fn enter() -> Option<Inside> {
        match INSIDE.try_with(|f| f.replace(true)) {
            Ok(false) => Some(Inside),
            _ => None,
        }
    }
}

impl Drop for Inside {
    #[inline(always)]
    fn drop(&mut self) {
        let _ = INSIDE.try_with(|f| f.set(false));
    }
}

/// The tiering, once ready.
#[inline(always)]
fn tiering() -> Option<&'static Tiering> {
    if STATE.load(Ordering::Acquire) != READY {
        return None;
    }
    // SAFETY: published once, before READY, and never freed.
    unsafe { TIERING.load(Ordering::Acquire).as_ref() }
}

use morselkind_cabi::{guard, set_errno};

fn write_stderr(msg: &str) {
    morselkind_cabi::write_stderr(msg.as_bytes())
}

// ---- start-up ----

/// The default when MEMKIND_MEM_TIERS is not set: the whole heap on DRAM.
const DRAM_ONLY: &str = "KIND:DRAM,RATIO:1;POLICY:STATIC_RATIO";

/// memkind's libmemtier log line prefixes.
const LOG_ERROR: &str = "MEMKIND_MEM_TIERING_LOG_ERROR: ";
const LOG_INFO: &str = "MEMKIND_MEM_TIERING_LOG_INFO: ";
const LOG_DEBUG: &str = "MEMKIND_MEM_TIERING_LOG_DEBUG: ";

/// Start-up, with memkind's log lines in memkind's order: at level 2 the level set, at level 1
/// and up "lib loaded" and then, per FS_DAX tier not on DAX, that it is not; errors always.
/// Our deliberate differences (README): MEMKIND_MEM_TIERS unset runs on DRAM only where memkind
/// aborts, and a bad spec is one error line (ours says what is wrong) and exit status 2 where
/// memkind prints its own lines and aborts.
fn start() {
    if STATE.compare_exchange(UNINIT, STARTING, Ordering::AcqRel, Ordering::Acquire).is_err() {
        return;
    }
    let Some(_inside) = Inside::enter() else { return };
    find_libc_usable_size();
    let env = morselkind::environment();
    let level = match env.tiering_log_level() {
        Ok(l) => l,
        Err(e) => {
            // As memkind: one line and abort.
            write_stderr(&format!(
                "{LOG_ERROR}Wrong value of MEMKIND_MEM_TIERING_LOG_LEVEL={}\n",
                memtier::spec::escape_controls(&e.value)
            ));
            std::process::abort();
        }
    };
    LOG_LEVEL.store(level, Ordering::Relaxed);
    if level >= 2 {
        write_stderr(&format!("{LOG_DEBUG}Setting log level to: {level}\n"));
    }
    if level >= 1 {
        write_stderr(&format!("{LOG_INFO}Memkind memtier lib loaded!\n"));
    }
    if let Some(path) = std::env::var_os("MORSELKIND_TIER_REPORT").filter(|p| !p.is_empty()) {
        use std::os::unix::ffi::OsStringExt;
        if let Ok(c) = std::ffi::CString::new(path.into_vec()) {
            REPORT_PATH.store(c.into_raw(), Ordering::Release);
        }
    }
    let tiers = std::env::var(memtier::spec::TIERS_VAR);
    let thresholds = std::env::var(memtier::spec::THRESHOLDS_VAR).ok();
    let text = match &tiers {
        Ok(t) => t.clone(),
        Err(std::env::VarError::NotPresent) => {
            write_stderr(&format!(
                "{LOG_ERROR}Missing {var} env var; libmorseltier runs on DRAM only (e.g. {var}=\"KIND:DRAM,\
                 RATIO:1;KIND:FS_DAX,PATH:/tmp,RATIO:4;POLICY:STATIC_RATIO\")\n",
                var = memtier::spec::TIERS_VAR
            ));
            DRAM_ONLY.to_string()
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            fail(&format!("{} is not valid UTF-8", memtier::spec::TIERS_VAR));
        }
    };
    let spec = match Spec::parse(&text, thresholds.as_deref()) {
        Ok(s) => s,
        Err(e) => fail(&e.to_string()),
    };
    if level >= 1 {
        for t in &spec.tiers {
            if let memtier::TierKind::FsDax { path, .. } = &t.kind {
                if !morselkind::dir_is_dax(path) {
                    let p = memtier::spec::escape_controls(&path.to_string_lossy());
                    write_stderr(&format!("{LOG_INFO}{p} don't point to DAX device\n"));
                }
            }
        }
    }
    let tiering = match Tiering::new(spec) {
        Ok(t) => t,
        Err(e) => fail(&e.to_string()),
    };
    if morselkind::morselkind_debug() {
        write_stderr(&format!("MORSELKIND_INFO: libmorseltier: {}\n", describe(&tiering)));
    }
    if !REPORT_PATH.load(Ordering::Relaxed).is_null() {
        let kinds: Vec<Kind> = tiering.memory.tiers().iter().map(|t| t.kind).collect();
        memtier::sampler::start(&kinds);
    }
    fork::install();
    let uncounted = tiering.memory.tiers().len() == 1
        && REPORT_PATH.load(Ordering::Relaxed).is_null()
        && !morselkind::morselkind_debug();
    UNCOUNTED.store(uncounted, Ordering::Relaxed);
    batch::route_tiers(&tiering);
    BATCHED.store(!uncounted && tiering.memory.tiers().len() <= batch::MAX_LOCAL, Ordering::Relaxed);
    let sole_default = uncounted && tiering.memory.tiers().first().is_some_and(|t| t.kind == Kind::DEFAULT);
    TIERING.store(Box::into_raw(Box::new(tiering)), Ordering::Release);
    STATE.store(READY, Ordering::Release);
    // After READY: the flag short-cuts the checks above, so it must not be seen before them.
    SOLE_DEFAULT.store(sole_default, Ordering::Release);
}

/// One clear message, then exit status 2: never an abort, never a core dump.
fn fail(msg: &str) -> ! {
    write_stderr(&format!("{LOG_ERROR}{msg}\n"));
    // SAFETY: ends the process at once, running no handler that could allocate.
    unsafe { libc::_exit(2) }
}

fn describe(t: &Tiering) -> String {
    let tiers: Vec<String> = t.spec.tiers.iter().map(|s| format!("{} ratio {}", s.kind, s.ratio)).collect();
    format!("{} over {}", t.spec.policy.name(), tiers.join(", "))
}

extern "C" fn constructor(_argc: c_int, _argv: *const *const c_char, _envp: *const *const c_char) {
    let _ = std::panic::catch_unwind(start);
}

extern "C" fn destructor() {
    let _ = std::panic::catch_unwind(report);
    if tiering().is_some() && LOG_LEVEL.load(Ordering::Relaxed) >= 1 {
        write_stderr(&format!("{LOG_INFO}Unloading memkind memtier lib!\n"));
    }
}

#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn(c_int, *const *const c_char, *const *const c_char) = constructor;

#[used]
#[link_section = ".fini_array"]
static FINI: extern "C" fn() = destructor;

/// Appends one line per tier to the report file: `pid=.. policy=.. tier=.. ratio=.. allocs=..
/// bytes=.. live=.. [threshold=..] kind=..` (the kind last: a path may hold spaces).
fn report() {
    let Some(t) = tiering() else { return };
    let path = REPORT_PATH.load(Ordering::Acquire);
    // The per-tier lines go to stderr with MORSELKIND_DEBUG=1 (memkind's log levels print
    // only memkind's own lines).
    let log = morselkind::morselkind_debug();
    if path.is_null() && !log {
        return;
    }
    let Some(_inside) = Inside::enter() else { return };
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let mut out = String::new();
    let thresholds = t.memory.thresholds();
    let sampled = memtier::sampler::finish();
    for (i, (tier, spec)) in t.memory.tiers().iter().zip(&t.spec.tiers).enumerate() {
        let tot = counters::totals(tier.kind);
        out.push_str(&format!(
            "pid={pid} policy={} tier={i} ratio={} allocs={} bytes={} live={}",
            t.spec.policy.name(),
            tier.ratio,
            tot.allocs,
            tot.bytes,
            counters::allocated_size(tier.kind)
        ));
        if let Some((s, ms)) = sampled.as_ref().and_then(|(v, ms)| v.get(i).map(|s| (s, ms))) {
            // Live bytes sampled over the process's life: byte·ms, ms, peak bytes.
            out.push_str(&format!(" area={:.0} ms={ms:.1} peak={}", s.area, s.peak));
        }
        if let Some(th) = thresholds.get(i) {
            out.push_str(&format!(" threshold={}", th.val()));
        }
        // Last: a path may hold spaces.
        out.push_str(&format!(" kind={}\n", spec.kind));
    }
    if log {
        write_stderr(&out);
    }
    if !path.is_null() {
        // The file must exist (`morselkind run` makes it and removes it when the run ends): a
        // process that outlives the run leaves nothing behind.
        // SAFETY: a NUL-terminated path kept from start-up; O_APPEND makes one write land whole.
        let fd = unsafe { libc::open(path, libc::O_WRONLY | libc::O_APPEND | libc::O_CLOEXEC) };
        if fd >= 0 {
            // SAFETY: writes from a live buffer, then closes our own fd.
            unsafe {
                libc::write(fd, out.as_ptr().cast(), out.len());
                libc::close(fd);
            }
        }
    }
}

// ---- the heap ----

#[inline(always)]
fn ptr_out(r: morselkind::Result<NonNull<u8>>) -> *mut c_void {
    match r {
        Ok(p) => p.as_ptr().cast(),
        Err(_) => {
            set_errno(libc::ENOMEM);
            std::ptr::null_mut()
        }
    }
}

/// Allocates from the picked tier; when it is full, from the others in order.
#[inline(always)]
fn tiered(t: &Tiering, size: usize, f: impl Fn(Kind) -> morselkind::Result<NonNull<u8>>) -> *mut c_void {
    let kind = t.memory.pick(size);
    let mut r = f(kind);
    if r.is_err() {
        for tier in t.memory.tiers() {
            if tier.kind != kind {
                r = f(tier.kind);
                if r.is_ok() {
                    break;
                }
            }
        }
    }
    t.memory.after_op();
    ptr_out(r)
}

/// Allocates through the thread's batch (see [`batch`]): the tier it gives, or the others in
/// order when that one is full; counted in the thread. `policy_size` is the size the policy
/// decides on (calloc's element size, as memkind's), `total` the bytes asked, `usable` the
/// usable size of a fresh block. Without a batch (an exiting thread, too many tiers), as
/// [`tiered`] does, call by call.
#[inline]
fn placed(
    t: &Tiering,
    policy_size: usize,
    total: usize,
    f: impl Fn(Kind) -> morselkind::Result<NonNull<u8>>,
    usable: impl Fn(Kind, NonNull<u8>) -> usize,
    counted: impl Fn(Kind) -> morselkind::Result<NonNull<u8>>,
) -> *mut c_void {
    if BATCHED.load(Ordering::Relaxed) {
        if let Some(i) = batch::place(t, policy_size, total) {
            let tiers = t.memory.tiers();
            let mut used = i;
            let mut r = f(tiers[i].kind);
            if r.is_err() {
                for (j, tier) in tiers.iter().enumerate() {
                    if j != i {
                        r = f(tier.kind);
                        if r.is_ok() {
                            used = j;
                            break;
                        }
                    }
                }
            }
            if let Ok(p) = r {
                batch::count_alloc(t, used, usable(tiers[used].kind, p));
            }
            return ptr_out(r);
        }
    }
    tiered(t, policy_size, counted)
}

/// malloc's body: `size` > 0.
#[inline(always)]
fn do_malloc(size: usize) -> *mut c_void {
    let (Some(_inside), Some(t)) = (Inside::enter(), tiering()) else {
        // SAFETY: glibc's malloc for nested calls and before start-up.
        return unsafe { __libc_malloc(size) };
    };
    if let Some(k) = uncounted(t) {
        return ptr_out(k.malloc(size));
    }
    placed(
        t,
        size,
        size,
        |k| k.malloc(size),
        |k, p| memtier::fresh_usable(k, p, size),
        |k| memtier::kind_malloc(k, size),
    )
}

/// memalign's body: `align` a power of two above 16, `size` > 0.
fn do_aligned(align: usize, size: usize) -> *mut c_void {
    let (Some(_inside), Some(t)) = (Inside::enter(), tiering()) else {
        // SAFETY: glibc's memalign for nested calls and before start-up.
        return unsafe { __libc_memalign(align, size) };
    };
    if let Some(k) = uncounted(t) {
        return ptr_out(k.aligned(align, size));
    }
    placed(
        t,
        size,
        size,
        |k| k.aligned(align, size),
        // SAFETY: a live block of `k`, just allocated.
        |k, p| unsafe { k.usable_size(p) },
        |k| memtier::kind_aligned(k, align, size),
    )
}

/// # Safety
/// C's malloc.
#[no_mangle]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    if SOLE_DEFAULT.load(Ordering::Relaxed) {
        if let Some(p) = Kind::DEFAULT.malloc_cached_via::<Tls>(size) {
            return p.as_ptr().cast();
        }
        return sole_default_miss(size);
    }
    if BATCHED.load(Ordering::Relaxed) {
        return malloc_batched(size);
    }
    malloc_tiered(size)
}

/// malloc with several tiers batched per thread (`batch`). Out of line, so that the DRAM-only
/// path above saves no registers. A thread's batch is set up only once the tiering is
/// published (READY), so this needs no check of it.
#[inline(never)]
fn malloc_batched(size: usize) -> *mut c_void {
    match batch::malloc_fast(size) {
        Some(p) => p.as_ptr().cast(),
        None => malloc_slow(size),
    }
}

/// A DRAM-only spec's malloc after a miss in DEFAULT's bin: jemalloc's cache behind ours, or
/// the slow path. Out of line and called last (a jump), so that malloc's hit path saves no
/// registers.
#[inline(never)]
fn sole_default_miss(size: usize) -> *mut c_void {
    match Kind::DEFAULT.malloc_cache_miss(size) {
        Some(p) => p.as_ptr().cast(),
        None => malloc_slow(size),
    }
}

/// malloc with one counted tier, several tiers placed call by call, or before start-up.
#[inline(never)]
fn malloc_tiered(size: usize) -> *mut c_void {
    match malloc_fast(size) {
        Some(p) => p.as_ptr().cast(),
        None => malloc_slow(size),
    }
}

/// After a miss of the fast paths; out of line, so that they save no registers.
#[inline(never)]
fn malloc_slow(size: usize) -> *mut c_void {
    // glibc: malloc(0) is a unique, freeable pointer.
    guard(std::ptr::null_mut(), || do_malloc(size.max(1)))
}

/// One uncounted tier: its kind's fast path (a hit in the thread's cache), which takes no lock, sets nothing up and cannot panic, so it needs neither
/// the guard nor the nested-call check. `None` (nothing done) for size 0 and every miss.
#[inline(always)]
fn malloc_fast(size: usize) -> Option<NonNull<u8>> {
    // UNCOUNTED is set just before the tiering is published: it may be missing for a moment.
    let t = tiering()?;
    if BATCHED.load(Ordering::Relaxed) {
        return batch::malloc_fast(size);
    }
    // A sole DEFAULT tier has its own path in malloc (SOLE_DEFAULT).
    uncounted(t)?.malloc_fast_via::<Tls>(size)
}

/// # Safety
/// C's calloc.
#[no_mangle]
pub unsafe extern "C" fn calloc(num: usize, size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let Some(total) = num.checked_mul(size) else {
            set_errno(libc::ENOMEM);
            return std::ptr::null_mut();
        };
        let total = total.max(1);
        let (Some(_inside), Some(t)) = (Inside::enter(), tiering()) else {
            // SAFETY: glibc's calloc for nested calls and before start-up.
            return unsafe { __libc_calloc(total, 1) };
        };
        if let Some(k) = uncounted(t) {
            return ptr_out(k.calloc(1, total));
        }
        // The policy decides on the element size, as memkind's memtier_calloc does.
        placed(
            t,
            size,
            total,
            |k| k.calloc(1, total),
            |k, p| memtier::fresh_usable(k, p, total),
            |k| memtier::kind_calloc(k, 1, total),
        )
    })
}

/// # Safety
/// C's free: `ptr` is NULL or a live block of this process's malloc.
#[no_mangle]
pub unsafe extern "C" fn free(ptr: *mut c_void) {
    let Some(p) = NonNull::new(ptr.cast::<u8>()) else { return };
    if SOLE_DEFAULT.load(Ordering::Relaxed) {
        // SAFETY: as below; with one uncounted tier a routed block needs nothing more.
        if unsafe { morselkind::free_fast_sized_via::<Tls>(p) }.is_none() {
            // SAFETY: forwarded from the caller.
            unsafe { free_slow(p) }
        }
        return;
    }
    // SAFETY: the caller passes a live block, ours or glibc's; only a block whose page tag
    // routes it (a small block of one of our tiers) is freed here.
    if let Some(r) = unsafe { morselkind::free_fast_sized_via::<Tls>(p) } {
        if BATCHED.load(Ordering::Relaxed) {
            if let Some(t) = tiering() {
                batch::count_free(t, r);
            }
        } else if !UNCOUNTED.load(Ordering::Relaxed) {
            count_free_unbatched(r);
        }
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe { free_slow(p) }
}

/// A routed free counted call by call (several tiers, no batch).
#[inline(never)]
fn count_free_unbatched(r: morselkind::Routed) {
    if let Some(tier) = tiering()
        .and_then(|t| t.memory.tiers().iter().find(|x| morselkind::route_of(x.kind) == Some(r.route)))
    {
        memtier::counters::on_free(tier.kind, r.usable);
    }
}

/// free of a block the page tags do not route; out of line, so that the fast path above saves
/// no registers.
///
/// # Safety
/// As C's free, with `p` not null.
#[inline(never)]
unsafe fn free_slow(p: NonNull<u8>) {
    let ptr: *mut c_void = p.as_ptr().cast();
    let uncounted = UNCOUNTED.load(Ordering::Relaxed);
    // SAFETY: the caller passes a live block, ours or glibc's (the fast path does nothing
    // with a block that is not ours).
    if uncounted && unsafe { morselkind::free_any_fast(p) } {
        return;
    }
    guard((), || match Kind::detect(p.as_ptr()) {
        // SAFETY: the directory says it is a live block of `k`.
        Some(k) if uncounted => unsafe { k.free(p) },
        // SAFETY: as above.
        Some(k) => unsafe { memtier::kind_free(k, p) },
        // SAFETY: not ours, so glibc's (allocated before start-up or by a nested call).
        None => unsafe { __libc_free(ptr) },
    })
}

/// # Safety
/// C's realloc.
#[no_mangle]
pub unsafe extern "C" fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let Some(p) = NonNull::new(ptr.cast::<u8>()) else { return do_malloc(size.max(1)) };
        if size == 0 {
            // glibc frees and returns NULL.
            // SAFETY: the caller passes a live block.
            unsafe { free(ptr) };
            return std::ptr::null_mut();
        }
        let Some(k) = Kind::detect(p.as_ptr()) else {
            // SAFETY: a live glibc block stays glibc's.
            return unsafe { __libc_realloc(ptr, size) };
        };
        let _inside = Inside::enter();
        if UNCOUNTED.load(Ordering::Relaxed) {
            // SAFETY: the directory says it is a live block of `k`, the only tier's.
            return ptr_out(unsafe { k.realloc(p, size) });
        }
        // SAFETY: the directory says it is a live block of `k`; it stays in its tier if it can.
        let mut r = unsafe { memtier::kind_realloc(k, p, size) };
        if let Some(t) = tiering() {
            if r.is_err() {
                // SAFETY: the block is still live (a failed realloc keeps it) and `k`'s.
                r = unsafe { move_to_other_tier(t, k, p, size) };
            }
            t.memory.after_op();
        }
        ptr_out(r)
    })
}

/// A realloc that cannot grow in its tier: the block moves to the first other tier with room,
/// as a fresh allocation would fall back. The old block is freed only once the new one holds
/// its bytes; with every tier full, it stays as it was.
///
/// # Safety
/// `ptr` must be a live block of `from`.
unsafe fn move_to_other_tier(
    t: &Tiering,
    from: Kind,
    ptr: NonNull<u8>,
    size: usize,
) -> morselkind::Result<NonNull<u8>> {
    // SAFETY: the caller passes a live block of `from`.
    let old = unsafe { from.usable_size(ptr) };
    for tier in t.memory.tiers().iter().filter(|tier| tier.kind != from) {
        if let Ok(fresh) = memtier::kind_malloc(tier.kind, size) {
            // SAFETY: both blocks are live and at least min(old, size) long, and distinct.
            unsafe {
                fresh.as_ptr().copy_from_nonoverlapping(ptr.as_ptr(), old.min(size));
                memtier::kind_free(from, ptr);
            }
            return Ok(fresh);
        }
    }
    Err(morselkind::Error::OutOfMemory)
}

/// # Safety
/// glibc's reallocarray.
#[no_mangle]
pub unsafe extern "C" fn reallocarray(ptr: *mut c_void, num: usize, size: usize) -> *mut c_void {
    match num.checked_mul(size) {
        // SAFETY: forwarded.
        Some(total) => unsafe { realloc(ptr, total) },
        None => {
            set_errno(libc::ENOMEM);
            std::ptr::null_mut()
        }
    }
}

/// glibc's `_mid_memalign`: small alignments are malloc's, others round up to a power of two.
fn memalign_impl(align: usize, size: usize) -> *mut c_void {
    if align <= 8 {
        return do_malloc(size.max(1));
    }
    if align <= 16 {
        // jemalloc's 8-byte class is only 8-aligned; 16 bytes and up are 16-aligned.
        return do_malloc(size.max(16));
    }
    if align > usize::MAX / 2 + 1 {
        set_errno(libc::EINVAL);
        return std::ptr::null_mut();
    }
    do_aligned(align.next_power_of_two(), size.max(1))
}

/// # Safety
/// C's posix_memalign.
#[no_mangle]
pub unsafe extern "C" fn posix_memalign(memptr: *mut *mut c_void, align: usize, size: usize) -> c_int {
    guard(libc::ENOMEM, || {
        if memptr.is_null() || !align.is_power_of_two() || align % std::mem::size_of::<*mut c_void>() != 0 {
            return libc::EINVAL;
        }
        let p = memalign_impl(align, size);
        if p.is_null() {
            return libc::ENOMEM;
        }
        // SAFETY: checked non-null; the caller's pointer slot.
        unsafe { *memptr = p };
        0
    })
}

/// # Safety
/// C's aligned_alloc (glibc 2.36: memalign's rules).
#[no_mangle]
pub unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || memalign_impl(align, size))
}

/// # Safety
/// glibc's memalign.
#[no_mangle]
pub unsafe extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || memalign_impl(align, size))
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// # Safety
/// glibc's valloc.
#[no_mangle]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || memalign_impl(page_size(), size))
}

/// # Safety
/// glibc's pvalloc: page-aligned, the size rounded up to whole pages (0 gives one page).
#[no_mangle]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let page = page_size();
        let Some(rounded) = size.max(1).checked_add(page - 1).map(|s| s & !(page - 1)) else {
            set_errno(libc::ENOMEM);
            return std::ptr::null_mut();
        };
        memalign_impl(page, rounded)
    })
}

/// # Safety
/// C's malloc_usable_size: `ptr` is NULL or a live block.
#[no_mangle]
pub unsafe extern "C" fn malloc_usable_size(ptr: *mut c_void) -> usize {
    let Some(p) = NonNull::new(ptr.cast::<u8>()) else { return 0 };
    guard(0, || match Kind::detect(p.as_ptr()) {
        // SAFETY: the directory says it is a live block of `k`.
        Some(k) => unsafe { k.usable_size(p) },
        // SAFETY: not ours, so a live glibc block.
        None => unsafe { libc_usable_size(ptr) },
    })
}
