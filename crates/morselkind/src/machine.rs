//! The machine and the environment, as this process reads them: the topology (nodes, CPUs,
//! distances, HMAT), the environment variables we honour, the calling thread's node, reserved
//! huge pages and whether a shared library can be loaded.
//!
//! A leaf: it imports no other module of the crate, so every module may read the machine
//! without reaching into the kind table or the placement rules. It decides nothing either: what
//! a kind makes of the machine is `crate::statics`' business.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;

use topology::{Env, Topology};

const MAX_CPUS: usize = 4096;

/// The machine, read once.
pub struct Machine {
    /// Nodes, CPUs, distances, HMAT.
    pub topology: Topology,
    /// The environment variables we honour.
    pub env: Env,
}

/// The machine as this process sees it (read on first use).
pub fn machine() -> &'static Machine {
    static MACHINE: OnceLock<Machine> = OnceLock::new();
    MACHINE.get_or_init(|| {
        let topology = Topology::system().unwrap_or_else(|_| Topology::from_nodes(Vec::new(), None));
        let machine = Machine { topology, env: Env::from_process() };
        for (cpu, slot) in CPU_NODE.iter().enumerate().take(machine.topology.cpu_slots()) {
            if let Some(node) = machine.topology.cpu_node(cpu as u32) {
                slot.store(node as u16, Ordering::Relaxed);
            }
        }
        machine
    })
}

/// The environment as the library read it for its own start-up and messages: read without
/// the topology, so the library's constructor and the first message need no more than this.
pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(Env::from_process)
}

static CPU_NODE: [AtomicU16; MAX_CPUS] = [const { AtomicU16::new(0) }; MAX_CPUS];

/// The NUMA node of the CPU the calling thread runs on (0 when unknown, or before
/// [`machine`] was first read).
pub fn current_node() -> usize {
    // Our own CPU → node table, not getcpu's node: a synthetic topology may differ.
    let Some((cpu, _)) = morsel::sys::current_cpu() else { return 0 };
    CPU_NODE.get(cpu as usize).map_or(0, |n| n.load(Ordering::Relaxed) as usize)
}

/// Huge pages of `kib` KiB reserved over the whole machine (`nr_hugepages`; 0 when the kernel
/// has no such size).
pub fn reserved_huge_pages(kib: usize) -> usize {
    std::fs::read_to_string(format!("/sys/kernel/mm/hugepages/hugepages-{kib}kB/nr_hugepages"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// What loading a shared library of this machine came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LibraryProbe {
    /// `dlopen` failed.
    NotFound,
    /// It loaded, but lacks a symbol asked for.
    MissingSymbols,
    /// It loaded and has every symbol asked for.
    Loaded,
}

/// Whether the library `name` can be loaded (`dlopen`, searched as the dynamic linker does) and
/// defines every one of `symbols`. It is closed again. For MEMKIND_HEAP_MANAGER=TBB, which
/// needs Intel TBB's allocator on the machine.
pub(crate) fn probe_library(name: &std::ffi::CStr, symbols: &[&std::ffi::CStr]) -> LibraryProbe {
    // SAFETY: `name` is NUL-terminated. Loading runs the library's constructors, which is what
    // memkind does too when asked for TBB (and it keeps the library; we close it below).
    let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return LibraryProbe::NotFound;
    }
    // SAFETY: `handle` is a live handle from dlopen; each symbol name is NUL-terminated.
    let all = symbols.iter().all(|s| !unsafe { libc::dlsym(handle, s.as_ptr()) }.is_null());
    // SAFETY: `handle` came from dlopen above and nothing of the library is used afterwards.
    unsafe { libc::dlclose(handle) };
    if all {
        LibraryProbe::Loaded
    } else {
        LibraryProbe::MissingSymbols
    }
}
