//! Typed access to the jemalloc controls morselkind uses (`mallctl`), in one place.
//!
//! Names are built on the stack: these run on allocation slow paths where the Rust heap may be
//! the very allocator being served.

use std::ffi::c_void;
use std::ptr;

use tikv_jemalloc_sys as je;

use crate::error::{Error, Result};

/// jemalloc's `arena_config_t` (5.3), which the bindings lack: the argument of
/// `experimental.arenas_create_ext`.
#[repr(C)]
pub struct ArenaConfig {
    /// The arena's extent hooks.
    pub extent_hooks: *const je::extent_hooks_t,
    /// Whether jemalloc's own metadata for the arena comes from the hooks (we say no: DRAM).
    pub metadata_use_hooks: bool,
}

/// A mallctl name with an arena index spliced in, NUL-terminated, on the stack.
struct Name {
    buf: [u8; 96],
}

impl Name {
    fn new(parts: &[&[u8]]) -> Name {
        let mut buf = [0u8; 96];
        let mut n = 0;
        for part in parts {
            buf[n..n + part.len()].copy_from_slice(part);
            n += part.len();
        }
        Name { buf }
    }

    /// `prefix` + decimal `arena` + "." + `leaf`.
    fn indexed(prefix: &[u8], arena: u32, leaf: &[u8]) -> Name {
        let mut buf = [0u8; 20];
        Name::new(&[prefix, morsel::sys::decimal(arena as u64, &mut buf), b".", leaf])
    }

    fn arena(arena: u32, leaf: &[u8]) -> Name {
        Name::indexed(b"arena.", arena, leaf)
    }

    fn stats_arena(arena: u32, leaf: &[u8]) -> Name {
        Name::indexed(b"stats.arenas.", arena, leaf)
    }

    fn ptr(&self) -> *const libc::c_char {
        self.buf.as_ptr().cast()
    }
}

/// Types of which every bit pattern is a value: what `mallctl` may write into a read. (A `bool`
/// is read as a `u8`: jemalloc writing anything but 0 or 1 into a `bool` would be undefined
/// behaviour on our side.)
trait Plain: Copy {}
impl Plain for u8 {}
impl Plain for u32 {}
impl Plain for u64 {}
impl Plain for usize {}

/// Reads a value.
fn read<T: Plain>(name: &Name) -> Option<T> {
    let mut v = std::mem::MaybeUninit::<T>::uninit();
    let mut len = std::mem::size_of::<T>();
    // SAFETY: the name is NUL-terminated; jemalloc writes at most `len` bytes into `v`.
    let rc = unsafe { je::mallctl(name.ptr(), v.as_mut_ptr().cast(), &mut len, ptr::null_mut(), 0) };
    // SAFETY: mallctl succeeded with the exact size, so `v` is initialised.
    (rc == 0 && len == std::mem::size_of::<T>()).then(|| unsafe { v.assume_init() })
}

/// Writes a value.
fn write<T>(name: &Name, mut value: T) -> bool {
    // SAFETY: the name is NUL-terminated; jemalloc reads `size_of::<T>()` bytes from `value`.
    let rc = unsafe {
        je::mallctl(
            name.ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
            (&mut value as *mut T).cast::<c_void>(),
            std::mem::size_of::<T>(),
        )
    };
    rc == 0
}

/// Runs a control that takes and returns nothing (`arena.N.purge`, `arena.N.destroy`).
fn call(name: &Name) -> bool {
    // SAFETY: the name is NUL-terminated and the control takes no data.
    unsafe { je::mallctl(name.ptr(), ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), 0) == 0 }
}

/// Creates an arena with `hooks`, its metadata in DRAM. Returns its index.
///
/// # Safety
/// `hooks` must point to an `extent_hooks_t` whose functions accept every call jemalloc makes
/// of them, and it must stay valid until the arena is destroyed ([`arena_destroy`]).
pub unsafe fn arena_create(hooks: *const je::extent_hooks_t) -> Result<u32> {
    let mut config = ArenaConfig { extent_hooks: hooks, metadata_use_hooks: false };
    let mut ind: libc::c_uint = 0;
    let mut len = std::mem::size_of::<libc::c_uint>();
    // SAFETY: the name is a C string literal; jemalloc reads one arena_config_t and writes one
    // unsigned, both of the sizes given.
    let rc = unsafe {
        je::mallctl(
            c"experimental.arenas_create_ext".as_ptr(),
            (&mut ind as *mut libc::c_uint).cast(),
            &mut len,
            (&mut config as *mut ArenaConfig).cast(),
            std::mem::size_of::<ArenaConfig>(),
        )
    };
    if rc == 0 {
        Ok(ind)
    } else {
        Err(Error::ArenasCreate)
    }
}

/// Destroys an arena: every allocation in it is discarded, retained extents go to the destroy hook.
///
/// # Safety
/// No block of the arena may be used (or freed) afterwards, and no thread may allocate from it
/// any more: it is a kind's, being destroyed.
pub unsafe fn arena_destroy(arena: u32) -> bool {
    call(&Name::arena(arena, b"destroy"))
}

/// Purges all unused dirty pages of an arena now.
pub fn arena_purge(arena: u32) {
    call(&Name::arena(arena, b"purge"));
}

/// Sets an arena's dirty and muzzy decay times (ms; -1 never purges, 0 purges at once).
pub fn arena_set_decay(arena: u32, dirty_ms: isize, muzzy_ms: isize) {
    write(&Name::arena(arena, b"dirty_decay_ms"), dirty_ms as libc::ssize_t);
    write(&Name::arena(arena, b"muzzy_decay_ms"), muzzy_ms as libc::ssize_t);
}

/// Bounds the size of the extents retained growth asks the hooks for.
pub fn arena_set_retain_grow_limit(arena: u32, limit: usize) {
    write(&Name::arena(arena, b"retain_grow_limit"), limit);
}

/// Refreshes jemalloc's statistics snapshot.
pub fn refresh_stats() {
    write(&Name::new(&[b"epoch"]), 1u64);
}

/// Per-arena statistics, in bytes, from the last snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArenaStats {
    /// Resident bytes (physical pages mapped for the arena, metadata included).
    pub resident: usize,
    /// Bytes in active pages.
    pub active: usize,
    /// Bytes allocated to the application.
    pub allocated: usize,
}

/// Reads an arena's statistics from the last snapshot.
pub fn arena_stats(arena: u32) -> ArenaStats {
    let small: usize = read(&Name::stats_arena(arena, b"small.allocated")).unwrap_or(0);
    let large: usize = read(&Name::stats_arena(arena, b"large.allocated")).unwrap_or(0);
    let pactive: usize = read(&Name::stats_arena(arena, b"pactive")).unwrap_or(0);
    let resident: usize = read(&Name::stats_arena(arena, b"resident")).unwrap_or(0);
    ArenaStats { resident, active: pactive * morsel::PAGE_SIZE, allocated: small + large }
}

/// Whole-process statistics from the last snapshot: (resident, active, allocated).
pub fn total_stats() -> ArenaStats {
    ArenaStats {
        resident: read(&Name::new(&[b"stats.resident"])).unwrap_or(0),
        active: read(&Name::new(&[b"stats.active"])).unwrap_or(0),
        allocated: read(&Name::new(&[b"stats.allocated"])).unwrap_or(0),
    }
}

/// Turns jemalloc's background purging threads on or off.
pub fn set_background_threads(on: bool) -> bool {
    write(&Name::new(&[b"background_thread"]), on)
}

/// Limits jemalloc's background threads to `n` (`max_background_threads`). jemalloc refuses
/// anything above the limit it started with (4 unless configured otherwise): then `false`.
pub fn set_max_background_threads(n: usize) -> bool {
    write(&Name::new(&[b"max_background_threads"]), n)
}

/// jemalloc's current limit on background threads.
pub fn max_background_threads() -> Option<usize> {
    read::<usize>(&Name::new(&[b"max_background_threads"]))
}

/// Whether background threads are on.
pub fn background_threads() -> bool {
    read::<u8>(&Name::new(&[b"background_thread"])).is_some_and(|b| b != 0)
}

/// What jemalloc knows about the slab holding a block (`experimental.utilization.query`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Utilization {
    /// The slab the bin allocates from next.
    pub slabcur: usize,
    /// Free regions in this block's slab.
    pub nfree: usize,
    /// Regions in the slab (1 for a large block).
    pub nregs: usize,
    /// The extent's size.
    pub size: usize,
    /// Free regions over the bin's slabs.
    pub bin_nfree: usize,
    /// Regions over the bin's slabs.
    pub bin_nregs: usize,
}

/// Queries the utilization of the slab holding `ptr`.
///
/// # Safety
/// `ptr` must be a live block of jemalloc's: jemalloc looks its extent up without checking.
pub unsafe fn utilization(ptr: *const c_void) -> Option<Utilization> {
    let mut out = Utilization::default();
    let mut len = std::mem::size_of::<Utilization>();
    let mut p = ptr;
    // SAFETY: jemalloc reads one pointer and writes exactly one Utilization.
    let rc = unsafe {
        je::mallctl(
            c"experimental.utilization.query".as_ptr(),
            (&mut out as *mut Utilization).cast(),
            &mut len,
            (&mut p as *mut *const c_void).cast(),
            std::mem::size_of::<*const c_void>(),
        )
    };
    (rc == 0).then_some(out)
}

/// Prints jemalloc's statistics through `write` (`malloc_stats_print` with its option letters).
///
/// # Safety
/// `write` must accept `opaque` and a C string.
pub unsafe fn stats_print(
    write: unsafe extern "C" fn(*mut c_void, *const libc::c_char),
    opaque: *mut c_void,
    opts: &[u8],
) {
    let mut buf = [0u8; 16];
    let n = opts.len().min(15);
    buf[..n].copy_from_slice(&opts[..n]);
    // SAFETY: the callback and its opaque pointer come from the caller; opts is NUL-terminated.
    unsafe { je::malloc_stats_print(Some(write), opaque, buf.as_ptr().cast()) }
}

#[repr(C)]
struct BatchPacket {
    ptrs: *mut *mut c_void,
    num: usize,
    size: usize,
    flags: libc::c_int,
}

/// Allocates up to `ptrs.len()` blocks of `size` bytes in one call
/// (`experimental.batch_alloc`, which fills from a slab at a time); returns how many it made.
pub fn batch_alloc(ptrs: &mut [*mut c_void], size: usize, flags: libc::c_int) -> usize {
    static MIB: std::sync::OnceLock<Option<[usize; 2]>> = std::sync::OnceLock::new();
    let mib = MIB.get_or_init(|| {
        let mut mib = [0usize; 2];
        let mut len = 2usize;
        // SAFETY: the name is a C string literal; jemalloc writes at most `len` components.
        let rc =
            unsafe { je::mallctlnametomib(c"experimental.batch_alloc".as_ptr(), mib.as_mut_ptr(), &mut len) };
        (rc == 0 && len == 2).then_some(mib)
    });
    let Some(mib) = mib else { return 0 };
    let mut packet = BatchPacket { ptrs: ptrs.as_mut_ptr(), num: ptrs.len(), size, flags };
    let mut filled = 0usize;
    let mut len = std::mem::size_of::<usize>();
    // SAFETY: jemalloc reads one packet, writes at most `num` pointers into `ptrs` and one size_t.
    let rc = unsafe {
        je::mallctlbymib(
            mib.as_ptr(),
            2,
            (&mut filled as *mut usize).cast(),
            &mut len,
            (&mut packet as *mut BatchPacket).cast(),
            std::mem::size_of::<BatchPacket>(),
        )
    };
    if rc == 0 {
        filled.min(ptrs.len())
    } else {
        0
    }
}

/// Associates the calling thread with `arena`: jemalloc's own fast paths (`malloc`, `free`,
/// its implicit thread cache) then allocate from it.
pub fn set_thread_arena(arena: u32) -> bool {
    write(&Name::new(&[b"thread.arena"]), arena as libc::c_uint)
}
