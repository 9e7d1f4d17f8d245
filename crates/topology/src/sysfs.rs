//! Reading a machine's NUMA layout from a sysfs tree.
//!
//! Everything comes from files under a root directory given by the caller (`/sys` on a real
//! machine), so tests build synthetic machines in a temporary directory. The only file read
//! outside that root is `<root>/../proc/cpuinfo` (and `<root>/../proc/meminfo` on kernels
//! without NUMA), which for `/sys` is the real `/proc`.
//!
//! Files that are missing are read as "nothing known" rather than as errors: sysfs grows
//! attributes over kernel versions (HMAT in 5.2, `access1` in 5.16), and a node may go
//! offline while we read.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::nodelist::{parse_list, NodeId};

/// Kernel defaults (`LOCAL_DISTANCE`, `REMOTE_DISTANCE`) for a node without a distance file.
const LOCAL_DISTANCE: u32 = 10;
const REMOTE_DISTANCE: u32 = 20;

/// HMAT performance figures for one memory node, as seen from its best initiators.
///
/// The kernel publishes, per target node, the initiator nodes with the best access to it
/// (`nodeN/accessC/initiators/nodeM`) and the figures from those initiators. Class 0 lists
/// any initiator; class 1 (Linux 5.16+) only CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hmat {
    /// Initiator nodes these figures apply to.
    pub initiators: Vec<NodeId>,
    /// MB/s.
    pub read_bandwidth: Option<u64>,
    /// MB/s.
    pub write_bandwidth: Option<u64>,
    /// Nanoseconds.
    pub read_latency: Option<u64>,
    /// Nanoseconds.
    pub write_latency: Option<u64>,
}

impl Hmat {
    /// The bandwidth memkind compares, in MB/s: hwloc's `BANDWIDTH` attribute, which is the
    /// mean of read and write bandwidth when both are known, else whichever is known.
    pub fn bandwidth(&self) -> Option<u64> {
        mean_of(self.read_bandwidth, self.write_bandwidth)
    }

    /// The latency memkind compares, in ns: hwloc's `LATENCY` attribute, the mean of read
    /// and write latency when both are known, else whichever is known.
    pub fn latency(&self) -> Option<u64> {
        mean_of(self.read_latency, self.write_latency)
    }

    /// Whether `node` is one of the initiators these figures are for.
    pub fn has_initiator(&self, node: NodeId) -> bool {
        self.initiators.contains(&node)
    }
}

fn mean_of(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a + b) / 2),
        (a, b) => a.or(b),
    }
}

/// One NUMA node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// The kernel's node number.
    pub id: NodeId,
    /// CPUs on this node, sorted. Empty for a memory-only node.
    pub cpus: Vec<u32>,
    /// SLIT distance to each online node (10 means local), from `nodeN/distance`.
    pub distances: BTreeMap<NodeId, u32>,
    /// `MemTotal` in bytes.
    pub mem_total: u64,
    /// `MemFree` in bytes, at the time of reading.
    pub mem_free: u64,
    /// HMAT access class 0 (`access0`), if the kernel publishes it.
    pub access0: Option<Hmat>,
    /// HMAT access class 1 (`access1`, CPU initiators only), if the kernel publishes it.
    pub access1: Option<Hmat>,
    /// True when a dax device bound to the `kmem` driver onlined memory on this node.
    pub dax_kmem: bool,
}

impl Node {
    /// True when the node has at least one CPU.
    pub fn has_cpus(&self) -> bool {
        !self.cpus.is_empty()
    }

    /// True when the node has memory.
    pub fn has_memory(&self) -> bool {
        self.mem_total > 0
    }

    /// True for memory without CPUs: HBM in flat mode, CXL expanders, KMEM DAX.
    pub fn is_memory_only(&self) -> bool {
        self.has_memory() && !self.has_cpus()
    }

    /// The HMAT figures hwloc (and so memkind) uses: `access1` when present, since it
    /// describes CPU initiators, else `access0`.
    pub fn hmat(&self) -> Option<&Hmat> {
        self.access1.as_ref().or(self.access0.as_ref())
    }
}

/// CPU identification from `/proc/cpuinfo` (x86 only; other architectures have no
/// `cpu family` line and get `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuModel {
    /// `vendor_id`, e.g. `GenuineIntel`.
    pub vendor: String,
    /// `cpu family`.
    pub family: u32,
    /// `model`, with the extended model bits folded in (the kernel prints it that way).
    pub model: u32,
}

impl CpuModel {
    /// Intel Xeon Phi Knights Landing (family 6, model 87) or Knights Mill (model 133): the
    /// machines on which memkind treats CPU-less nodes as MCDRAM.
    pub fn is_knights_landing_or_mill(&self) -> bool {
        self.family == 6 && (self.model == 0x57 || self.model == 0x85)
    }
}

/// A machine's NUMA layout: nodes, CPUs, distances, capacity, HMAT figures, KMEM DAX nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    /// Sorted by id.
    nodes: Vec<Node>,
    /// Indexed by CPU number, so the per-allocation CPU→node lookup is one load.
    cpu_to_node: Vec<Option<NodeId>>,
    cpu_model: Option<CpuModel>,
}

impl Topology {
    /// Reads the running machine (`/sys`, and `/proc/cpuinfo`).
    ///
    /// Allocates: call it where allocation is allowed.
    pub fn system() -> io::Result<Topology> {
        Topology::from_sysfs(Path::new("/sys"))
    }

    /// Reads a machine from a sysfs tree rooted at `root` (a real `/sys` or a synthetic one).
    ///
    /// Reads `devices/system/node/{online,nodeN/{cpulist,distance,meminfo,access0,access1}}`,
    /// `bus/dax/devices/*/{driver,target_node}` and `<root>/../proc/cpuinfo`. A kernel
    /// without NUMA (no `devices/system/node`) is one node 0 holding every online CPU and
    /// all of `<root>/../proc/meminfo`.
    pub fn from_sysfs(root: &Path) -> io::Result<Topology> {
        let node_dir = root.join("devices/system/node");
        let proc_dir = root.parent().map(|p| p.join("proc"));
        let mut nodes = if node_dir.is_dir() {
            read_nodes(&node_dir)?
        } else {
            vec![single_node(root, proc_dir.as_deref())]
        };
        for id in read_dax_kmem_targets(root) {
            if let Some(n) = nodes.iter_mut().find(|n| n.id == id) {
                n.dax_kmem = true;
            }
        }
        let cpu_model = proc_dir
            .and_then(|p| fs::read_to_string(p.join("cpuinfo")).ok())
            .and_then(|text| parse_cpuinfo(&text));
        Ok(Topology::from_nodes(nodes, cpu_model))
    }

    /// Builds a topology from nodes already in hand (for callers that synthesise one).
    /// Nodes are sorted by id; a CPU listed by two nodes belongs to the lower-numbered one.
    pub fn from_nodes(mut nodes: Vec<Node>, cpu_model: Option<CpuModel>) -> Topology {
        nodes.sort_by_key(|n| n.id);
        nodes.dedup_by_key(|n| n.id);
        let max_cpu = nodes.iter().flat_map(|n| n.cpus.iter().copied()).max();
        let mut cpu_to_node = vec![None; max_cpu.map_or(0, |c| c as usize + 1)];
        for n in &nodes {
            for &c in &n.cpus {
                cpu_to_node[c as usize].get_or_insert(n.id);
            }
        }
        Topology { nodes, cpu_to_node, cpu_model }
    }

    /// All nodes, sorted by id.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node with this id, if it is online.
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.binary_search_by_key(&id, |n| n.id).ok().map(|i| &self.nodes[i])
    }

    /// Ids of all online nodes, sorted.
    pub fn node_ids(&self) -> Vec<NodeId> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// Ids of nodes that have CPUs, sorted.
    pub fn cpu_node_ids(&self) -> Vec<NodeId> {
        self.nodes.iter().filter(|n| n.has_cpus()).map(|n| n.id).collect()
    }

    /// The SLIT distance from one node to another. Unknown distances get the kernel's
    /// defaults: 10 to itself, 20 to any other node.
    pub fn distance(&self, from: NodeId, to: NodeId) -> u32 {
        self.node(from).and_then(|n| n.distances.get(&to).copied()).unwrap_or(if from == to {
            LOCAL_DISTANCE
        } else {
            REMOTE_DISTANCE
        })
    }

    /// The node a CPU belongs to.
    pub fn cpu_node(&self, cpu: u32) -> Option<NodeId> {
        self.cpu_to_node.get(cpu as usize).copied().flatten()
    }

    /// Number of CPU slots (highest CPU number + 1), the size of a per-CPU table.
    pub fn cpu_slots(&self) -> usize {
        self.cpu_to_node.len()
    }

    /// The CPU model, when `cpuinfo` was readable and names one.
    pub fn cpu_model(&self) -> Option<&CpuModel> {
        self.cpu_model.as_ref()
    }

    /// The CPU the calling thread runs on (`sched_getcpu`).
    pub fn current_cpu() -> Option<u32> {
        crate::sys::current_cpu()
    }

    /// The node of the CPU the calling thread runs on, looked up in this topology; `None` if
    /// the CPU is not in it (e.g. a synthetic tree smaller than the machine).
    pub fn current_node(&self) -> Option<NodeId> {
        Topology::current_cpu().and_then(|c| self.cpu_node(c))
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn read_u64(path: &Path) -> Option<u64> {
    read_trimmed(path)?.parse().ok()
}

/// The online nodes: `online` when present (the kernel's own answer), else the union of
/// `has_memory` and `has_cpu`, else `possible`, else the `nodeN` directories.
fn online_node_ids(node_dir: &Path) -> io::Result<Vec<NodeId>> {
    let list = |file: &str| read_trimmed(&node_dir.join(file)).and_then(|t| parse_list(&t).ok());
    if let Some(ids) = list("online") {
        return Ok(ids);
    }
    let (mem, cpu) = (list("has_memory"), list("has_cpu"));
    if mem.is_some() || cpu.is_some() {
        let mut ids: Vec<NodeId> = mem.into_iter().chain(cpu).flatten().collect();
        ids.sort_unstable();
        ids.dedup();
        return Ok(ids);
    }
    if let Some(ids) = list("possible") {
        return Ok(ids);
    }
    let mut ids: Vec<NodeId> = fs::read_dir(node_dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name().to_str().and_then(|s| s.strip_prefix("node")).and_then(|s| s.parse().ok())
        })
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

fn read_nodes(node_dir: &Path) -> io::Result<Vec<Node>> {
    let ids = online_node_ids(node_dir)?;
    let mut nodes = Vec::new();
    for &id in &ids {
        let dir = node_dir.join(format!("node{id}"));
        if !dir.is_dir() {
            // Listed but gone: it went offline while we read.
            continue;
        }
        let cpus = read_trimmed(&dir.join("cpulist")).and_then(|t| parse_list(&t).ok()).unwrap_or_default();
        // nodeN/distance has one entry per online node, in node order.
        let distances = read_trimmed(&dir.join("distance"))
            .map(|t| ids.iter().copied().zip(t.split_whitespace().filter_map(|d| d.parse().ok())).collect())
            .unwrap_or_default();
        let (mem_total, mem_free) = fs::read_to_string(dir.join("meminfo"))
            .map(|t| (meminfo_bytes(&t, "MemTotal:"), meminfo_bytes(&t, "MemFree:")))
            .unwrap_or((0, 0));
        nodes.push(Node {
            id,
            cpus,
            distances,
            mem_total,
            mem_free,
            access0: read_access(&dir.join("access0")),
            access1: read_access(&dir.join("access1")),
            dax_kmem: false,
        });
    }
    Ok(nodes)
}

/// A value in kB from a meminfo text, in bytes. Handles both `/proc/meminfo`
/// (`MemTotal: 123 kB`) and per-node (`Node 0 MemTotal: 123 kB`) lines.
fn meminfo_bytes(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|line| {
            let rest = &line[line.find(key)? + key.len()..];
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb.saturating_mul(1024))
}

/// `nodeN/accessC/initiators/`: the initiator nodes (entries named `nodeM`) and the four
/// performance figures. `None` when the directory does not exist.
fn read_access(access_dir: &Path) -> Option<Hmat> {
    let dir = access_dir.join("initiators");
    let entries = fs::read_dir(&dir).ok()?;
    let mut initiators: Vec<NodeId> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name().to_str().and_then(|s| s.strip_prefix("node")).and_then(|s| s.parse().ok())
        })
        .collect();
    initiators.sort_unstable();
    Some(Hmat {
        initiators,
        read_bandwidth: read_u64(&dir.join("read_bandwidth")),
        write_bandwidth: read_u64(&dir.join("write_bandwidth")),
        read_latency: read_u64(&dir.join("read_latency")),
        write_latency: read_u64(&dir.join("write_latency")),
    })
}

/// Nodes that memory from a dax device in system-ram mode went to: devices under
/// `bus/dax/devices` whose `driver` link ends in `kmem`. memkind asks libdaxctl the same
/// question (a device with a memory object, i.e. bound to kmem, and its target node).
fn read_dax_kmem_targets(root: &Path) -> Vec<NodeId> {
    let Ok(entries) = fs::read_dir(root.join("bus/dax/devices")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.filter_map(|e| e.ok()) {
        let dev: PathBuf = entry.path();
        let bound_to_kmem = fs::read_link(dev.join("driver"))
            .ok()
            .is_some_and(|target| target.file_name().is_some_and(|n| n == "kmem"));
        if !bound_to_kmem {
            continue;
        }
        // target_node is where kmem onlines the memory. numa_node is the device's own
        // proximity (usually a CPU node), so it is only a fallback for kernels that lack
        // target_node. -1 means "no node".
        let node = read_trimmed(&dev.join("target_node"))
            .or_else(|| read_trimmed(&dev.join("numa_node")))
            .and_then(|t| t.parse::<i64>().ok())
            .and_then(|n| NodeId::try_from(n).ok());
        out.extend(node);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// A kernel built without NUMA has no node directory: the whole machine is node 0.
fn single_node(root: &Path, proc_dir: Option<&Path>) -> Node {
    let cpu_dir = root.join("devices/system/cpu");
    let cpus = ["online", "possible"]
        .iter()
        .find_map(|f| read_trimmed(&cpu_dir.join(f)).and_then(|t| parse_list(&t).ok()))
        .unwrap_or_default();
    let meminfo = proc_dir.and_then(|p| fs::read_to_string(p.join("meminfo")).ok()).unwrap_or_default();
    Node {
        id: 0,
        cpus,
        distances: BTreeMap::from([(0, LOCAL_DISTANCE)]),
        mem_total: meminfo_bytes(&meminfo, "MemTotal:"),
        mem_free: meminfo_bytes(&meminfo, "MemFree:"),
        ..Node::default()
    }
}

/// The first processor's vendor, family and model.
fn parse_cpuinfo(text: &str) -> Option<CpuModel> {
    let field = |name: &str| {
        text.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    Some(CpuModel {
        vendor: field("vendor_id").unwrap_or_default(),
        family: field("cpu family")?.parse().ok()?,
        model: field("model")?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_lines() {
        let node = "Node 1 MemTotal:       4286668 kB\nNode 1 MemFree:  1 kB\n";
        assert_eq!(meminfo_bytes(node, "MemTotal:"), 4286668 * 1024);
        assert_eq!(meminfo_bytes(node, "MemFree:"), 1024);
        assert_eq!(meminfo_bytes("MemTotal: 2 kB\n", "MemTotal:"), 2048);
        assert_eq!(meminfo_bytes("", "MemTotal:"), 0);
    }

    #[test]
    fn cpuinfo_fields() {
        let knl = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 87\n\
                   model name\t: Intel(R) Xeon Phi(TM) CPU 7250\n";
        let m = parse_cpuinfo(knl).unwrap();
        assert_eq!((m.vendor.as_str(), m.family, m.model), ("GenuineIntel", 6, 87));
        assert!(m.is_knights_landing_or_mill());
        assert!(parse_cpuinfo("processor : 0\nBogoMIPS : 50\n").is_none());
    }

    #[test]
    fn hmat_means() {
        let h = Hmat {
            read_bandwidth: Some(300),
            write_bandwidth: Some(100),
            read_latency: Some(90),
            ..Hmat::default()
        };
        assert_eq!(h.bandwidth(), Some(200));
        assert_eq!(h.latency(), Some(90));
    }
}
