//! What each static kind is on this machine: its source and placement, from the topology and
//! the environment, with memkind's rules (`man memkind`). A kind the machine cannot serve gets
//! memkind's error for it, and stays unavailable.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;

use morsel::{sys, Source};
use topology::{ClassifyError, Env, Family, Topology, Variant};

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
    // SAFETY: sched_getcpu takes no arguments and only reads the vDSO/CPU state.
    let cpu = unsafe { libc::sched_getcpu() };
    if cpu < 0 {
        return 0;
    }
    CPU_NODE.get(cpu as usize).map_or(0, |n| n.load(Ordering::Relaxed) as usize)
}

fn classify_error(e: &ClassifyError) -> Error {
    match e.memkind_error() {
        "MEMKIND_ERROR_ENVIRON" => Error::Environ,
        "MEMKIND_ERROR_UNAVAILABLE" => Error::Unavailable,
        "MEMKIND_ERROR_RUNTIME" => Error::Runtime,
        _ => Error::MemtypeNotAvailable,
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

/// Where a static kind puts its memory on a machine (`topology`, `env`), with memkind's rules:
/// the policy and node mask per CPU node, or why the machine cannot serve the kind.
/// A pure function, so tests can ask it about synthetic machines.
pub fn placements(k: StaticKind, topology: &Topology, env: &Env) -> Result<Placements> {
    use StaticKind as S;
    match k {
        S::Default | S::Huge | S::Hugetlb | S::Gbtlb => Ok(Placements::None),
        S::Regular => Ok(Placements::All(Placement::new(sys::MPOL_BIND, topology.regular_nodes()))),
        S::Interleave => Ok(Placements::All(Placement::new(sys::MPOL_INTERLEAVE, topology.memory_nodes()))),
        S::HbwHugetlb | S::HbwGbtlb => numa_placements(S::Hbw, topology, env),
        S::HbwAllHugetlb => numa_placements(S::HbwAll, topology, env),
        S::HbwPreferredHugetlb | S::HbwPreferredGbtlb => numa_placements(S::HbwPreferred, topology, env),
        _ => numa_placements(k, topology, env),
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
