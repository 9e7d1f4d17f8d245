//! Which nodes each memkind kind family uses, decided the way memkind 1.14 decides.
//!
//! Every function here is a pure function of a [`Topology`] and an [`Env`]. Two levels:
//!
//! - node *sets* ([`Topology::hbw_nodes`], [`Topology::dax_kmem_nodes`],
//!   [`Topology::regular_nodes`], ...), for reporting and for the `_ALL`/`_INTERLEAVE` kinds;
//! - a per-CPU-node [`NodeMap`] from [`Topology::node_map`], which is what memkind binds to:
//!   for each node that has CPUs, the nodes a thread running there gets. It also reports the
//!   errors that make memkind call a kind unavailable (a distance tie for a `_PREFERRED`
//!   kind, a CPU node with no suitable memory, a bad variable).
//!
//! memkind's rules, as read from its source (`memkind_hbw.c`, `memkind_dax_kmem.c`,
//! `memkind_bitmask.c`, `memkind_mem_attributes.c`, `memkind_capacity.c`):
//!
//! - **HBW nodes**: `MEMKIND_HBW_NODES` if set; else, on Knights Landing/Mill, the CPU-less
//!   nodes (only in flat mode: 2, 4 or 8 memory nodes, half of them CPU-less); else HMAT:
//!   from each CPU node, the targets whose bandwidth from that initiator is at least
//!   `MEMKIND_HBW_THRESHOLD`. The KNL and HMAT paths never fall back to one another.
//! - **KMEM DAX nodes**: `MEMKIND_DAX_KMEM_NODES` if set, else the target nodes of dax
//!   devices bound to `kmem`.
//! - **closest**: for each CPU node, the candidates at minimum SLIT distance, ties included.
//!   `_PREFERRED` kinds fail on a tie; `_ALL`/`_INTERLEAVE` kinds take every candidate.
//! - **HIGHEST_CAPACITY**: the nodes whose `MemTotal` is the largest, machine-wide.
//! - **\*_LOCAL**: for each CPU node, its *local domain* (the nodes whose hwloc locality is
//!   exactly that CPU node, see [`Topology::locality`]), and within it the best by capacity,
//!   HMAT latency (lowest) or HMAT bandwidth (highest), ties included.

use std::fmt;

use crate::nodelist::{parse_list, NodeId};
use crate::options::{Env, EnvError};
use crate::sysfs::{Hmat, Topology};

/// A memkind kind family, for [`Topology::node_map`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// HBW, HBW_ALL, HBW_PREFERRED, HBW_INTERLEAVE and their HUGETLB forms.
    Hbw,
    /// DAX_KMEM, DAX_KMEM_ALL, DAX_KMEM_PREFERRED, DAX_KMEM_INTERLEAVE.
    DaxKmem,
    /// HIGHEST_CAPACITY, HIGHEST_CAPACITY_PREFERRED (machine-wide, not per CPU).
    HighestCapacity,
    /// HIGHEST_CAPACITY_LOCAL, HIGHEST_CAPACITY_LOCAL_PREFERRED.
    HighestCapacityLocal,
    /// LOWEST_LATENCY_LOCAL, LOWEST_LATENCY_LOCAL_PREFERRED.
    LowestLatencyLocal,
    /// HIGHEST_BANDWIDTH_LOCAL, HIGHEST_BANDWIDTH_LOCAL_PREFERRED.
    HighestBandwidthLocal,
}

/// Which of a family's node choices a kind makes (memkind's `NODE_VARIANT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The best nodes for the calling CPU, ties included (HBW, DAX_KMEM, *_LOCAL,
    /// HIGHEST_CAPACITY).
    Closest,
    /// The single best node; a tie is an error (the `_PREFERRED` kinds).
    Preferred,
    /// Every node of the family (the `_ALL` and `_INTERLEAVE` kinds). For the capacity and
    /// `_LOCAL` families, which memkind has no `_ALL` kind for, this is [`Variant::Closest`].
    All,
}

/// Where the HBW node list comes from, in memkind's order of precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HbwSource {
    /// `MEMKIND_HBW_NODES`.
    Env,
    /// CPU-less nodes of a Knights Landing/Mill in flat mode.
    KnightsLanding,
    /// HMAT bandwidth at or above this threshold (MB/s).
    Hmat {
        /// MB/s.
        threshold: u64,
    },
}

/// Why a family's nodes could not be chosen. Each case corresponds to one memkind error;
/// [`ClassifyError::memkind_error`] names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassifyError {
    /// A variable was set to a value that cannot be used.
    Env(EnvError),
    /// Detection found no node of the family at all: no dax device bound to kmem, or a
    /// Knights Landing/Mill not in a flat-mode layout.
    Unavailable {
        /// The family.
        family: Family,
    },
    /// A node with CPUs has no suitable memory (HMAT-detected HBW, the `_LOCAL` kinds), or
    /// no node has memory at all (`cpu_node` is `None`, HIGHEST_CAPACITY).
    NoneFor {
        /// The family.
        family: Family,
        /// The CPU node that has no candidate, or `None` for a machine-wide choice.
        cpu_node: Option<NodeId>,
    },
    /// A `_PREFERRED` kind found several equally good nodes.
    Tie {
        /// The family.
        family: Family,
        /// The CPU node with the tie, or `None` for a machine-wide choice.
        cpu_node: Option<NodeId>,
        /// The tied nodes.
        nodes: Vec<NodeId>,
    },
}

/// The memkind error a classification failure stands for (what memkind returns in the same
/// situation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemkindCode {
    /// `MEMKIND_ERROR_ENVIRON`.
    Environ,
    /// `MEMKIND_ERROR_UNAVAILABLE`.
    Unavailable,
    /// `MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE`.
    MemtypeNotAvailable,
    /// `MEMKIND_ERROR_RUNTIME`.
    Runtime,
}

impl MemkindCode {
    /// memkind's name for the code.
    pub fn name(self) -> &'static str {
        match self {
            MemkindCode::Environ => "MEMKIND_ERROR_ENVIRON",
            MemkindCode::Unavailable => "MEMKIND_ERROR_UNAVAILABLE",
            MemkindCode::MemtypeNotAvailable => "MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE",
            MemkindCode::Runtime => "MEMKIND_ERROR_RUNTIME",
        }
    }
}

impl ClassifyError {
    /// The memkind error code memkind returns in the same situation.
    pub fn memkind_code(&self) -> MemkindCode {
        match self {
            ClassifyError::Env(_) => MemkindCode::Environ,
            ClassifyError::Unavailable { .. } => MemkindCode::Unavailable,
            ClassifyError::NoneFor { .. } => MemkindCode::MemtypeNotAvailable,
            ClassifyError::Tie { family, .. } => match family {
                Family::Hbw | Family::DaxKmem => MemkindCode::Runtime,
                _ => MemkindCode::MemtypeNotAvailable,
            },
        }
    }

    /// The name of [`ClassifyError::memkind_code`] (`MEMKIND_ERROR_...`), for messages.
    pub fn memkind_error(&self) -> &'static str {
        self.memkind_code().name()
    }
}

impl fmt::Display for ClassifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |n: &Option<NodeId>| n.map_or(String::new(), |n| format!(" for CPU node {n}"));
        match self {
            ClassifyError::Env(e) => write!(f, "{e}"),
            ClassifyError::Unavailable { family } => write!(f, "no {family:?} nodes detected"),
            ClassifyError::NoneFor { family, cpu_node } => {
                write!(f, "no {family:?} node{}", at(cpu_node))
            }
            ClassifyError::Tie { family, cpu_node, nodes } => {
                write!(f, "{family:?} nodes {nodes:?} tie{}", at(cpu_node))
            }
        }
    }
}

impl std::error::Error for ClassifyError {}

impl From<EnvError> for ClassifyError {
    fn from(e: EnvError) -> Self {
        ClassifyError::Env(e)
    }
}

/// For each node with CPUs, the nodes a thread running there binds to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeMap {
    /// Indexed by CPU node id; empty for ids that are not CPU nodes.
    by_cpu_node: Vec<Vec<NodeId>>,
}

impl NodeMap {
    fn insert(&mut self, cpu_node: NodeId, nodes: Vec<NodeId>) {
        let i = cpu_node as usize;
        if self.by_cpu_node.len() <= i {
            self.by_cpu_node.resize(i + 1, Vec::new());
        }
        self.by_cpu_node[i] = nodes;
    }

    /// The nodes for a thread on `cpu_node` (sorted); empty if it is not a CPU node.
    pub fn get(&self, cpu_node: NodeId) -> &[NodeId] {
        self.by_cpu_node.get(cpu_node as usize).map_or(&[], Vec::as_slice)
    }

    /// Every (CPU node, nodes) pair, by CPU node.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, &[NodeId])> {
        self.by_cpu_node
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty())
            .map(|(i, v)| (i as NodeId, v.as_slice()))
    }

    /// All nodes any CPU node binds to, sorted.
    pub fn union(&self) -> Vec<NodeId> {
        let mut all: Vec<NodeId> = self.by_cpu_node.iter().flatten().copied().collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// Applies a variant to one CPU node's candidates: all of them, or the closest (ties
/// included), which for `Preferred` must be a single node.
fn choose(
    topo: &Topology,
    family: Family,
    variant: Variant,
    cpu_node: NodeId,
    candidates: &[NodeId],
) -> Result<Vec<NodeId>, ClassifyError> {
    let chosen = match variant {
        Variant::All => candidates.to_vec(),
        Variant::Closest | Variant::Preferred => topo.closest(cpu_node, candidates),
    };
    check_single(family, variant, Some(cpu_node), chosen)
}

fn check_single(
    family: Family,
    variant: Variant,
    cpu_node: Option<NodeId>,
    nodes: Vec<NodeId>,
) -> Result<Vec<NodeId>, ClassifyError> {
    if variant == Variant::Preferred && nodes.len() > 1 {
        return Err(ClassifyError::Tie { family, cpu_node, nodes });
    }
    Ok(nodes)
}

/// All values equal to the best one, by `better(a, b)` meaning "a beats b".
fn best_by(items: impl Iterator<Item = (NodeId, u64)>, better: impl Fn(u64, u64) -> bool) -> Vec<NodeId> {
    let mut best: Option<u64> = None;
    let mut out = Vec::new();
    for (node, value) in items {
        match best {
            Some(b) if better(b, value) => {}
            Some(b) if b == value => out.push(node),
            _ => {
                best = Some(value);
                out.clear();
                out.push(node);
            }
        }
    }
    out.sort_unstable();
    out
}

impl Topology {
    /// Every online node.
    pub fn all_nodes(&self) -> Vec<NodeId> {
        self.node_ids()
    }

    /// Nodes that have memory.
    pub fn memory_nodes(&self) -> Vec<NodeId> {
        self.nodes().iter().filter(|n| n.has_memory()).map(|n| n.id).collect()
    }

    /// Nodes with memory and no CPUs.
    pub fn memory_only_nodes(&self) -> Vec<NodeId> {
        self.nodes().iter().filter(|n| n.is_memory_only()).map(|n| n.id).collect()
    }

    /// memkind's REGULAR nodes: those that have CPUs.
    pub fn regular_nodes(&self) -> Vec<NodeId> {
        self.cpu_node_ids()
    }

    /// The candidates at minimum distance from `from`, ties included, sorted.
    pub fn closest(&self, from: NodeId, candidates: &[NodeId]) -> Vec<NodeId> {
        best_by(candidates.iter().map(|&c| (c, u64::from(self.distance(from, c)))), |best, d| best < d)
    }

    /// Parses a `MEMKIND_*_NODES` value against this machine: a list such as `1-3,5`, or
    /// `all`. Like libnuma's `numa_parse_nodestring`, naming a node that does not exist is
    /// an error, and so is an empty list.
    pub fn parse_env_nodes(&self, var: &'static str, value: &str) -> Result<Vec<NodeId>, EnvError> {
        let err = |reason| EnvError { var, value: value.to_string(), reason };
        if value.trim() == "all" {
            return Ok(self.all_nodes());
        }
        let nodes = parse_list(value).map_err(|e| err(e.reason))?;
        if nodes.is_empty() {
            return Err(err("empty node list"));
        }
        if nodes.iter().any(|&n| self.node(n).is_none()) {
            return Err(err("names a node that is not online"));
        }
        Ok(nodes)
    }

    /// Where HBW nodes come from under `env`. Fails only on a bad `MEMKIND_HBW_THRESHOLD`,
    /// which matters only when HMAT is the source.
    pub fn hbw_source(&self, env: &Env) -> Result<HbwSource, ClassifyError> {
        if env.hbw_nodes().is_some() {
            return Ok(HbwSource::Env);
        }
        if self.cpu_model().is_some_and(|m| m.is_knights_landing_or_mill()) {
            return Ok(HbwSource::KnightsLanding);
        }
        Ok(HbwSource::Hmat { threshold: env.hbw_threshold()? })
    }

    /// Knights Landing/Mill in flat mode: with 2, 4 or 8 memory nodes, numbered from 0, of
    /// which exactly half have no CPUs, those are the MCDRAM. Anything else: none.
    fn knl_hbw_nodes(&self) -> Vec<NodeId> {
        let count = self.memory_nodes().len() as NodeId;
        if ![2, 4, 8].contains(&count) {
            return Vec::new();
        }
        let cpu_less: Vec<NodeId> =
            (0..count).filter(|&id| self.node(id).is_some_and(|n| !n.has_cpus())).collect();
        if 2 * cpu_less.len() as NodeId == count {
            cpu_less
        } else {
            Vec::new()
        }
    }

    /// Targets whose HMAT bandwidth, as seen from `cpu_node`, is at least `threshold`.
    fn hmat_hbw_for(&self, cpu_node: NodeId, threshold: u64) -> Vec<NodeId> {
        self.nodes()
            .iter()
            .filter(|t| {
                t.hmat().is_some_and(|h| {
                    h.has_initiator(cpu_node) && h.bandwidth().is_some_and(|b| b >= threshold)
                })
            })
            .map(|t| t.id)
            .collect()
    }

    /// The high-bandwidth nodes: `MEMKIND_HBW_NODES`, else KNL's MCDRAM nodes, else nodes
    /// whose HMAT bandwidth from at least one CPU node reaches the threshold. May be empty;
    /// fails only on a bad variable.
    pub fn hbw_nodes(&self, env: &Env) -> Result<Vec<NodeId>, ClassifyError> {
        match self.hbw_source(env)? {
            HbwSource::Env => {
                let value = env.hbw_nodes().unwrap_or_default();
                Ok(self.parse_env_nodes("MEMKIND_HBW_NODES", value)?)
            }
            HbwSource::KnightsLanding => Ok(self.knl_hbw_nodes()),
            HbwSource::Hmat { threshold } => {
                let mut all: Vec<NodeId> =
                    self.cpu_node_ids().into_iter().flat_map(|c| self.hmat_hbw_for(c, threshold)).collect();
                all.sort_unstable();
                all.dedup();
                Ok(all)
            }
        }
    }

    /// The KMEM DAX nodes: `MEMKIND_DAX_KMEM_NODES`, else the nodes of dax devices bound to
    /// `kmem`. May be empty; fails only on a bad variable.
    pub fn dax_kmem_nodes(&self, env: &Env) -> Result<Vec<NodeId>, ClassifyError> {
        match env.dax_kmem_nodes() {
            Some(value) => Ok(self.parse_env_nodes("MEMKIND_DAX_KMEM_NODES", value)?),
            None => Ok(self.nodes().iter().filter(|n| n.dax_kmem).map(|n| n.id).collect()),
        }
    }

    /// The nodes with the largest `MemTotal`, all of them when several tie. Empty when no
    /// node reports memory.
    pub fn highest_capacity_nodes(&self) -> Vec<NodeId> {
        best_by(self.nodes().iter().filter(|n| n.has_memory()).map(|n| (n.id, n.mem_total)), |best, v| {
            best > v
        })
    }

    /// The CPU nodes a node is local to, as hwloc places it (hwloc's cpuset of the node):
    ///
    /// - a node with CPUs is local to itself;
    /// - a memory-only node is local to its HMAT initiators that have CPUs;
    /// - without HMAT, to the one CPU node strictly closest to it by distance; if several
    ///   tie, hwloc attaches it to the whole machine, i.e. every CPU node.
    pub fn locality(&self, node: NodeId) -> Vec<NodeId> {
        let Some(n) = self.node(node) else {
            return Vec::new();
        };
        if n.has_cpus() {
            return vec![node];
        }
        let cpu_nodes = self.cpu_node_ids();
        if let Some(h) = n.hmat() {
            let init: Vec<NodeId> = h.initiators.iter().copied().filter(|i| cpu_nodes.contains(i)).collect();
            if !init.is_empty() {
                return init;
            }
        }
        let closest = self.closest(node, &cpu_nodes);
        if closest.len() == 1 {
            closest
        } else {
            cpu_nodes
        }
    }

    /// A CPU node's local domain: the nodes whose [`Topology::locality`] is exactly that
    /// node (hwloc's `hwloc_get_local_numanode_objs` with no flags). Includes the CPU node.
    pub fn local_domain(&self, cpu_node: NodeId) -> Vec<NodeId> {
        self.nodes().iter().filter(|n| self.locality(n.id) == [cpu_node]).map(|n| n.id).collect()
    }

    /// HIGHEST_CAPACITY_LOCAL: the local nodes with the largest `MemTotal`, ties included.
    pub fn highest_capacity_local(&self, cpu_node: NodeId) -> Vec<NodeId> {
        best_by(
            self.local_domain(cpu_node)
                .into_iter()
                .filter_map(|id| self.node(id))
                .filter(|n| n.has_memory())
                .map(|n| (n.id, n.mem_total)),
            |best, v| best > v,
        )
    }

    /// HMAT figure of each local node as seen from `cpu_node`, skipping nodes without one.
    fn local_hmat(&self, cpu_node: NodeId, figure: fn(&Hmat) -> Option<u64>) -> Vec<(NodeId, u64)> {
        self.local_domain(cpu_node)
            .into_iter()
            .filter_map(|id| {
                let h = self.node(id)?.hmat()?;
                if !h.has_initiator(cpu_node) {
                    return None;
                }
                Some((id, figure(h)?))
            })
            .collect()
    }

    /// LOWEST_LATENCY_LOCAL: the local nodes with the lowest HMAT latency from `cpu_node`,
    /// ties included. Nodes without HMAT figures are not candidates.
    pub fn lowest_latency_local(&self, cpu_node: NodeId) -> Vec<NodeId> {
        best_by(self.local_hmat(cpu_node, Hmat::latency).into_iter(), |best, v| best < v)
    }

    /// HIGHEST_BANDWIDTH_LOCAL: the local nodes with the highest HMAT bandwidth from
    /// `cpu_node`, ties included. Nodes without HMAT figures are not candidates.
    pub fn highest_bandwidth_local(&self, cpu_node: NodeId) -> Vec<NodeId> {
        best_by(self.local_hmat(cpu_node, Hmat::bandwidth).into_iter(), |best, v| best > v)
    }

    /// What a kind of `family` and `variant` binds to, per CPU node, with memkind's errors.
    pub fn node_map(&self, env: &Env, family: Family, variant: Variant) -> Result<NodeMap, ClassifyError> {
        let mut map = NodeMap::default();
        let cpu_nodes = self.cpu_node_ids();
        match family {
            Family::Hbw | Family::DaxKmem => {
                let hmat_threshold = match family {
                    Family::Hbw => match self.hbw_source(env)? {
                        HbwSource::Hmat { threshold } => Some(threshold),
                        _ => None,
                    },
                    _ => None,
                };
                if let Some(threshold) = hmat_threshold {
                    // HMAT: each CPU node sees its own candidates, and one without any
                    // makes the whole kind unavailable, as in memkind.
                    for c in cpu_nodes {
                        let candidates = self.hmat_hbw_for(c, threshold);
                        if candidates.is_empty() {
                            return Err(ClassifyError::NoneFor { family, cpu_node: Some(c) });
                        }
                        map.insert(c, choose(self, family, variant, c, &candidates)?);
                    }
                } else {
                    let candidates = match family {
                        Family::Hbw => self.hbw_nodes(env)?,
                        _ => self.dax_kmem_nodes(env)?,
                    };
                    if candidates.is_empty() {
                        return Err(ClassifyError::Unavailable { family });
                    }
                    for c in cpu_nodes {
                        map.insert(c, choose(self, family, variant, c, &candidates)?);
                    }
                }
            }
            Family::HighestCapacity => {
                let nodes = self.highest_capacity_nodes();
                if nodes.is_empty() {
                    return Err(ClassifyError::NoneFor { family, cpu_node: None });
                }
                let nodes = check_single(family, variant, None, nodes)?;
                for c in cpu_nodes {
                    map.insert(c, nodes.clone());
                }
            }
            Family::HighestCapacityLocal | Family::LowestLatencyLocal | Family::HighestBandwidthLocal => {
                for c in cpu_nodes {
                    let nodes = match family {
                        Family::HighestCapacityLocal => self.highest_capacity_local(c),
                        Family::LowestLatencyLocal => self.lowest_latency_local(c),
                        _ => self.highest_bandwidth_local(c),
                    };
                    if nodes.is_empty() {
                        return Err(ClassifyError::NoneFor { family, cpu_node: Some(c) });
                    }
                    map.insert(c, check_single(family, variant, Some(c), nodes)?);
                }
            }
        }
        Ok(map)
    }
}
