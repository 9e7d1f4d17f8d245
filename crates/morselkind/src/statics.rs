//! What each static kind is on this machine: its source and placement, from the topology and
//! the environment, with memkind's rules (`man memkind`). A kind the machine cannot serve gets
//! memkind's error for it, and stays unavailable.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;

use morsel::{sys, Source};
use topology::{ClassifyError, Env, Family, MemkindCode, Topology, Variant};

use crate::error::{Error, Result};
use crate::kind::{KindSpec, StaticKind};
use crate::provider::{Placement, Placements, ProviderConfig, MAX_NODES};

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

static CPU_NODE: [AtomicU16; MAX_CPUS] = [const { AtomicU16::new(0) }; MAX_CPUS];

/// The NUMA node of the CPU the calling thread runs on (0 when unknown).
pub fn current_node() -> usize {
    // Our own CPU → node table, not getcpu's node: a synthetic topology may differ.
    let Some((cpu, _)) = morsel::sys::current_cpu() else { return 0 };
    CPU_NODE.get(cpu as usize).map_or(0, |n| n.load(Ordering::Relaxed) as usize)
}

fn classify_error(e: &ClassifyError) -> Error {
    match e.memkind_code() {
        MemkindCode::Environ => Error::Environ,
        MemkindCode::Unavailable => Error::Unavailable,
        MemkindCode::Runtime => Error::Runtime,
        MemkindCode::MemtypeNotAvailable => Error::MemtypeNotAvailable,
    }
}

/// The family, variant and mbind mode of a NUMA static kind.
fn numa_shape(k: StaticKind) -> Option<(Family, Variant, i32)> {
    use StaticKind as S;
    let (bind, pref, il) = (sys::MPOL_BIND, sys::MPOL_PREFERRED, sys::MPOL_INTERLEAVE);
    Some(match k {
        S::Hbw => (Family::Hbw, Variant::Closest, bind),
        S::HbwAll => (Family::Hbw, Variant::All, bind),
        S::HbwPreferred => (Family::Hbw, Variant::Preferred, pref),
        S::HbwInterleave => (Family::Hbw, Variant::All, il),
        S::DaxKmem => (Family::DaxKmem, Variant::Closest, bind),
        S::DaxKmemAll => (Family::DaxKmem, Variant::All, bind),
        S::DaxKmemPreferred => (Family::DaxKmem, Variant::Preferred, pref),
        S::DaxKmemInterleave => (Family::DaxKmem, Variant::All, il),
        S::HighestCapacity => (Family::HighestCapacity, Variant::Closest, bind),
        S::HighestCapacityPreferred => (Family::HighestCapacity, Variant::Preferred, pref),
        S::HighestCapacityLocal => (Family::HighestCapacityLocal, Variant::Closest, bind),
        S::HighestCapacityLocalPreferred => (Family::HighestCapacityLocal, Variant::Preferred, pref),
        S::LowestLatencyLocal => (Family::LowestLatencyLocal, Variant::Closest, bind),
        S::LowestLatencyLocalPreferred => (Family::LowestLatencyLocal, Variant::Preferred, pref),
        S::HighestBandwidthLocal => (Family::HighestBandwidthLocal, Variant::Closest, bind),
        S::HighestBandwidthLocalPreferred => (Family::HighestBandwidthLocal, Variant::Preferred, pref),
        _ => return None,
    })
}

/// The placements of a NUMA static kind: per CPU node, as memkind chooses them.
fn numa_placements(k: StaticKind, topology: &Topology, env: &Env) -> Result<Placements> {
    let Some((family, variant, mode)) = numa_shape(k) else { return Ok(Placements::None) };
    let map = topology.node_map(env, family, variant).map_err(|e| classify_error(&e))?;
    let mut per_node: Box<[Option<Placement>; MAX_NODES]> = Box::new([None; MAX_NODES]);
    for (cpu_node, nodes) in map.iter() {
        if (cpu_node as usize) < MAX_NODES && !nodes.is_empty() {
            per_node[cpu_node as usize] = Some(Placement::new(mode, nodes.iter().copied()));
        }
    }
    Ok(Placements::PerNode(per_node))
}

/// The kind whose nodes a huge-page HBW kind uses (itself for the others).
fn numa_base(k: StaticKind) -> StaticKind {
    use StaticKind as S;
    match k {
        S::HbwHugetlb | S::HbwGbtlb => S::Hbw,
        S::HbwAllHugetlb => S::HbwAll,
        S::HbwPreferredHugetlb | S::HbwPreferredGbtlb => S::HbwPreferred,
        _ => k,
    }
}

/// Where a static kind puts its memory on a machine (`topology`, `env`), with memkind's rules:
/// the policy and node mask per CPU node, or why the machine cannot serve the kind.
/// A pure function, so tests can ask it about synthetic machines.
pub fn placements(k: StaticKind, topology: &Topology, env: &Env) -> Result<Placements> {
    use StaticKind as S;
    match k {
        S::Default | S::Huge | S::Hugetlb | S::Gbtlb => Ok(Placements::None),
        S::Regular => Ok(Placements::All(Placement::new(sys::MPOL_BIND, topology.regular_nodes()))),
        S::Interleave => Ok(Placements::All(Placement::new(sys::MPOL_INTERLEAVE, topology.memory_nodes()))),
        _ => numa_placements(numa_base(k), topology, env),
    }
}

/// The nodes a kind would use for a thread on `cpu_node`, for reports (`morselkind info`).
pub fn nodes_for(k: StaticKind, cpu_node: usize) -> Result<Vec<u32>> {
    match spec_config(k)?.placements {
        Placements::None => Ok(machine().topology.node_ids()),
        Placements::All(p) => Ok(p.nodes().collect()),
        Placements::PerNode(map) => map
            .get(cpu_node)
            .and_then(|p| p.as_ref())
            .map(|p| p.nodes().collect())
            .ok_or(Error::MemtypeNotAvailable),
    }
}

fn spec_config(k: StaticKind) -> Result<ProviderConfig> {
    use StaticKind as S;
    let m = machine();
    let placements = placements(k, &m.topology, &m.env)?;
    let config = ProviderConfig { hog: m.env.hog_memory(), placements, ..Default::default() };
    if uses_hugetlb(k) {
        hugetlb_reserved()?;
        return Ok(ProviderConfig { huge: true, eager: true, ..config });
    }
    match k {
        S::Interleave => Ok(ProviderConfig { no_huge: true, ..config }),
        S::Huge if !morsel::caps().thp_usable() => Err(Error::Hugetlb),
        S::Huge => Ok(ProviderConfig { huge: true, eager: true, ..config }),
        _ => Ok(config),
    }
}

/// Whether 2 MiB hugetlbfs pages are reserved (read when the kind is first used, as memkind).
fn hugetlb_reserved() -> Result<()> {
    if morsel::caps::probe().hugetlb_2m_total > 0 {
        Ok(())
    } else {
        Err(Error::Hugetlb)
    }
}

/// Whether a static kind draws on reserved hugetlbfs pages.
pub fn uses_hugetlb(k: StaticKind) -> bool {
    use StaticKind as S;
    matches!(
        k,
        S::Hugetlb
            | S::Gbtlb
            | S::HbwHugetlb
            | S::HbwPreferredHugetlb
            | S::HbwAllHugetlb
            | S::HbwGbtlb
            | S::HbwPreferredGbtlb
    )
}

/// The spec of a static kind on this machine, or why it cannot be served.
pub fn spec(k: StaticKind) -> Result<KindSpec> {
    let config = spec_config(k)?;
    let source = if uses_hugetlb(k) { Source::hugetlb() } else { Source::anon() };
    Ok(KindSpec { source, config, dirty_decay_ms: 10_000 })
}

/// The high-bandwidth nodes of this machine, as memkind finds them.
pub fn hbw_nodes() -> Result<Vec<u32>> {
    let m = machine();
    m.topology.hbw_nodes(&m.env).map_err(|e| classify_error(&e))
}

// ---- messages (MEMKIND_DEBUG, MORSELKIND_DEBUG) and a library probe (MEMKIND_HEAP_MANAGER) ----

/// Says what setting a static kind up on first use came to (called once per kind, by
/// `Kind::ready`): memkind's `Initializing kind` line and, when the kind is unavailable, its
/// error with the reason; with `MORSELKIND_DEBUG=1`, the nodes detected (the first time) and
/// the placement and page choices made, or why the kind is unavailable. Does nothing (and
/// computes nothing) when neither variable asks for messages.
pub(crate) fn report(k: StaticKind, outcome: &Result<()>) {
    use crate::log;
    if !log::any_debug() {
        return;
    }
    static MACHINE_NOTED: std::sync::Once = std::sync::Once::new();
    MACHINE_NOTED.call_once(note_machine);
    // memkind's MEMKIND_DEFAULT is set up statically, without a message.
    if k != StaticKind::Default {
        log::info(|l| {
            l.s(b"Initializing kind ").s(k.name().as_bytes()).s(b".");
        });
    }
    let m = machine();
    match outcome {
        Ok(()) => note_placements(k, m),
        Err(e) => {
            let classified = numa_shape(numa_base(k))
                .and_then(|(family, variant, _)| m.topology.node_map(&m.env, family, variant).err());
            match &classified {
                Some(c) => {
                    log::error(|l| classify_message(l, c));
                    log::note(|l| {
                        l.s(k.name().as_bytes()).s(b" is unavailable: ");
                        classify_message(l, c);
                    });
                }
                None if uses_hugetlb(k) => {
                    log::error(|l| {
                        l.s(b"Persistent hugepages and overcommit hugepages are not available.");
                    });
                    log::note(|l| {
                        l.s(k.name().as_bytes()).s(
                            b" is unavailable: no 2 MiB hugetlbfs pages are reserved (vm.nr_hugepages is 0)",
                        );
                    });
                }
                None if k == StaticKind::Huge && !morsel::caps().thp_usable() => {
                    log::error(|l| {
                        l.s(b"Transparent huge pages are not available for kind ")
                            .s(k.name().as_bytes())
                            .s(b".");
                    });
                    log::note(|l| {
                        l.s(k.name().as_bytes()).s(b" is unavailable: ");
                        thp_words(l);
                        l.s(b"; it does not fall back to small pages (MEMKIND_DEFAULT is that)");
                    });
                }
                None => {
                    log::error(|l| {
                        l.s(b"Cannot initialize kind ")
                            .s(k.name().as_bytes())
                            .s(b": ")
                            .s(e.message().as_bytes())
                            .s(b".");
                    });
                    log::note(|l| {
                        l.s(k.name().as_bytes()).s(b" is unavailable: ").s(e.message().as_bytes());
                    });
                }
            }
        }
    }
}

/// memkind's words for a kind whose nodes cannot be chosen.
fn classify_message(l: &mut crate::log::Line, e: &ClassifyError) {
    let init_node = |n: &Option<u32>| u64::from(n.unwrap_or(current_node() as u32));
    match e {
        ClassifyError::Env(env) => {
            l.s(b"Invalid value of environment variable ")
                .s(env.var.as_bytes())
                .s(b"=")
                .s(env.value.as_bytes())
                .s(b": ")
                .s(env.reason.as_bytes())
                .s(b".");
        }
        ClassifyError::Unavailable { family } => {
            l.s(b"No ").s(family_words(*family)).s(b" Nodes for init node ").n(init_node(&None)).s(b".");
        }
        ClassifyError::NoneFor { family, cpu_node } => {
            l.s(b"No ").s(family_words(*family)).s(b" Nodes for init node ").n(init_node(cpu_node)).s(b".");
        }
        ClassifyError::Tie { family, cpu_node, nodes } => {
            l.s(b"Invalid Numa Configuration for Node ")
                .n(init_node(cpu_node))
                .s(b" (")
                .s(family_words(*family))
                .s(b" Nodes ")
                .nodes(nodes.iter().copied())
                .s(b" are equally close; a PREFERRED kind needs one).");
        }
    }
}

fn family_words(f: Family) -> &'static [u8] {
    match f {
        Family::Hbw => b"HBW",
        Family::DaxKmem => b"DAX KMEM",
        _ => b"memory attribute",
    }
}

fn thp_words(l: &mut crate::log::Line) {
    l.s(match morsel::caps().thp {
        morsel::caps::ThpMode::Always => b"transparent huge pages: always",
        morsel::caps::ThpMode::Madvise => b"transparent huge pages: madvise",
        morsel::caps::ThpMode::Never => {
            b"transparent huge pages: never (/sys/kernel/mm/transparent_hugepage/enabled)"
        }
        morsel::caps::ThpMode::Unsupported => b"transparent huge pages: not supported by this kernel",
    });
}

fn mode_words(mode: i32) -> &'static [u8] {
    match mode {
        sys::MPOL_BIND => b"MPOL_BIND",
        sys::MPOL_PREFERRED => b"MPOL_PREFERRED",
        sys::MPOL_INTERLEAVE => b"MPOL_INTERLEAVE",
        _ => b"MPOL_?",
    }
}

/// The nodes this process sees, the HBW and DAX KMEM nodes and where they come from, and the
/// huge pages on offer (MORSELKIND_DEBUG=1, once).
fn note_machine() {
    use crate::log::note;
    let m = machine();
    let t = &m.topology;
    note(|l| {
        l.s(b"NUMA nodes ")
            .nodes(t.node_ids())
            .s(b"; with CPUs ")
            .nodes(t.cpu_node_ids())
            .s(b"; with memory ")
            .nodes(t.memory_nodes())
            .s(b"; this thread runs on node ")
            .n(current_node() as u64);
    });
    note(|l| {
        l.s(b"HBW nodes ");
        match t.hbw_nodes(&m.env) {
            Ok(nodes) => l.nodes(nodes),
            Err(e) => {
                l.s(b"none: ");
                classify_message(l, &e);
                return;
            }
        };
        match t.hbw_source(&m.env) {
            Ok(topology::HbwSource::Env) => l.s(b", from MEMKIND_HBW_NODES"),
            Ok(topology::HbwSource::KnightsLanding) => {
                l.s(b", the MCDRAM of a Knights Landing/Mill in flat mode")
            }
            Ok(topology::HbwSource::Hmat { threshold }) => l
                .s(b", from HMAT: read bandwidth of at least ")
                .n(threshold)
                .s(b" MB/s (MEMKIND_HBW_THRESHOLD)"),
            Err(_) => l,
        };
    });
    note(|l| {
        l.s(b"DAX KMEM nodes ");
        match t.dax_kmem_nodes(&m.env) {
            Ok(nodes) => l.nodes(nodes),
            Err(e) => {
                l.s(b"none: ");
                classify_message(l, &e);
                return;
            }
        };
        l.s(if m.env.dax_kmem_nodes().is_some() {
            b", from MEMKIND_DAX_KMEM_NODES"
        } else {
            b", from the dax devices bound to kmem"
        });
    });
    note(|l| {
        thp_words(l);
        l.s(b"; 2 MiB hugetlbfs pages reserved: ").n(morsel::caps::probe().hugetlb_2m_total);
    });
}

/// Where a static kind that was just set up puts its memory (MORSELKIND_DEBUG=1).
fn note_placements(k: StaticKind, m: &Machine) {
    use crate::log::note;
    use StaticKind as S;
    let name = k.name().as_bytes();
    match placements(k, &m.topology, &m.env) {
        Ok(Placements::None) => note(|l| {
            l.s(name).s(b": no NUMA binding");
        }),
        Ok(Placements::All(p)) => note(|l| {
            l.s(name).s(b": ").s(mode_words(p.mode)).s(b" over nodes ").nodes(p.nodes());
        }),
        Ok(Placements::PerNode(map)) => {
            for (cpu_node, p) in map.iter().enumerate() {
                if let Some(p) = p {
                    note(|l| {
                        l.s(name)
                            .s(b": threads on node ")
                            .n(cpu_node as u64)
                            .s(b" get ")
                            .s(mode_words(p.mode))
                            .s(b" over nodes ")
                            .nodes(p.nodes());
                    });
                }
            }
        }
        Err(_) => {}
    }
    match k {
        S::Huge => note(|l| {
            l.s(name).s(b": 2 MiB morsels marked MADV_HUGEPAGE and populated at once (");
            thp_words(l);
            l.s(b")");
        }),
        S::Interleave => note(|l| {
            l.s(name).s(b": never huge pages (MADV_NOHUGEPAGE), as memkind");
        }),
        _ if uses_hugetlb(k) => note(|l| {
            l.s(name)
                .s(b": 2 MiB hugetlbfs pages, populated at once (")
                .n(morsel::caps::probe().hugetlb_2m_total)
                .s(b" reserved)");
        }),
        _ => {}
    }
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
