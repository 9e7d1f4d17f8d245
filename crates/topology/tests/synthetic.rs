//! Synthetic machines: sysfs trees written into a temporary directory, read back with
//! `Topology::from_sysfs`, and classified. Each test states the exact node sets memkind
//! would choose on that machine.

use std::fs;
use std::path::{Path, PathBuf};

use test_support::fs::TestDir;
use topology::{ClassifyError, Env, Family, HbwSource, NodeId, NodeMap, Topology, Variant};

const GIB_KB: u64 = 1 << 20;

/// A directory under the system temp dir, removed on drop.
fn temp_dir() -> TestDir {
    TestDir::new(&std::env::temp_dir(), "topology-test")
}

/// HMAT figures for one target node: initiators, read/write bandwidth, read/write latency.
#[derive(Clone)]
struct Access {
    initiators: Vec<NodeId>,
    bw: (u64, u64),
    lat: (u64, u64),
}

fn access(initiators: &[NodeId], read_bw: u64, write_bw: u64, latency: u64) -> Access {
    Access { initiators: initiators.to_vec(), bw: (read_bw, write_bw), lat: (latency, latency) }
}

struct NodeSpec {
    id: NodeId,
    cpus: String,
    mem_kb: u64,
    access0: Option<Access>,
    access1: Option<Access>,
}

/// Describes a machine, then writes it as a sysfs tree.
#[derive(Default)]
struct Machine {
    nodes: Vec<NodeSpec>,
    distance: Option<Box<dyn Fn(NodeId, NodeId) -> u32>>,
    dax: Vec<(String, String, i64)>,
    cpuinfo: Option<(u32, u32)>,
    write_online: bool,
}

impl Machine {
    fn new() -> Machine {
        Machine { write_online: true, ..Machine::default() }
    }

    fn node(mut self, id: NodeId, cpus: &str, mem_gib: u64) -> Machine {
        self.nodes.push(NodeSpec {
            id,
            cpus: cpus.to_string(),
            mem_kb: mem_gib * GIB_KB,
            access0: None,
            access1: None,
        });
        self
    }

    fn hmat(mut self, id: NodeId, a: Access) -> Machine {
        self.nodes.iter_mut().find(|n| n.id == id).unwrap().access0 = Some(a);
        self
    }

    fn hmat1(mut self, id: NodeId, a: Access) -> Machine {
        self.nodes.iter_mut().find(|n| n.id == id).unwrap().access1 = Some(a);
        self
    }

    fn distances(mut self, f: impl Fn(NodeId, NodeId) -> u32 + 'static) -> Machine {
        self.distance = Some(Box::new(f));
        self
    }

    fn distance_table(self, rows: &'static [&'static [u32]]) -> Machine {
        self.distances(move |a, b| rows[a as usize][b as usize])
    }

    /// A dax device `name` bound to `driver` (`kmem` or `device_dax`) with this target node.
    fn dax(mut self, name: &str, driver: &str, target: i64) -> Machine {
        self.dax.push((name.to_string(), driver.to_string(), target));
        self
    }

    fn cpu(mut self, family: u32, model: u32) -> Machine {
        self.cpuinfo = Some((family, model));
        self
    }

    fn without_online_file(mut self) -> Machine {
        self.write_online = false;
        self
    }

    fn write(&self, dir: &Path) -> PathBuf {
        let sys = dir.join("sys");
        let node_dir = sys.join("devices/system/node");
        fs::create_dir_all(&node_dir).unwrap();
        let ids: Vec<NodeId> = self.nodes.iter().map(|n| n.id).collect();
        let list = topology::format_ranges(&ids);
        if self.write_online {
            fs::write(node_dir.join("online"), format!("{list}\n")).unwrap();
            fs::write(node_dir.join("possible"), format!("{list}\n")).unwrap();
        }
        for n in &self.nodes {
            let d = node_dir.join(format!("node{}", n.id));
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("cpulist"), format!("{}\n", n.cpus)).unwrap();
            let row: Vec<String> = ids
                .iter()
                .map(|&to| match &self.distance {
                    Some(f) => f(n.id, to).to_string(),
                    None => (if n.id == to { 10 } else { 20 }).to_string(),
                })
                .collect();
            fs::write(d.join("distance"), format!("{}\n", row.join(" "))).unwrap();
            let free_kb = n.mem_kb / 2;
            fs::write(
                d.join("meminfo"),
                format!(
                    "Node {id} MemTotal: {t:>15} kB\nNode {id} MemFree: {f:>16} kB\n\
                     Node {id} MemUsed: {u:>16} kB\n",
                    id = n.id,
                    t = n.mem_kb,
                    f = free_kb,
                    u = n.mem_kb - free_kb
                ),
            )
            .unwrap();
            for (class, a) in [("access0", &n.access0), ("access1", &n.access1)] {
                let Some(a) = a else { continue };
                let init = d.join(class).join("initiators");
                fs::create_dir_all(&init).unwrap();
                for i in &a.initiators {
                    // Real sysfs has symlinks to the initiator node's directory.
                    std::os::unix::fs::symlink(format!("../../../node{i}"), init.join(format!("node{i}")))
                        .unwrap();
                }
                fs::write(init.join("read_bandwidth"), format!("{}\n", a.bw.0)).unwrap();
                fs::write(init.join("write_bandwidth"), format!("{}\n", a.bw.1)).unwrap();
                fs::write(init.join("read_latency"), format!("{}\n", a.lat.0)).unwrap();
                fs::write(init.join("write_latency"), format!("{}\n", a.lat.1)).unwrap();
            }
        }
        for (name, driver, target) in &self.dax {
            let d = sys.join("bus/dax/devices").join(name);
            fs::create_dir_all(&d).unwrap();
            std::os::unix::fs::symlink(format!("../../../../bus/dax/drivers/{driver}"), d.join("driver"))
                .unwrap();
            fs::write(d.join("target_node"), format!("{target}\n")).unwrap();
            // numa_node is the device's own proximity, a CPU node: it must not be used.
            fs::write(d.join("numa_node"), "0\n").unwrap();
        }
        if let Some((family, model)) = self.cpuinfo {
            fs::create_dir_all(dir.join("proc")).unwrap();
            let mut text = String::new();
            for p in 0..2 {
                text += &format!(
                    "processor\t: {p}\nvendor_id\t: GenuineIntel\ncpu family\t: {family}\n\
                     model\t\t: {model}\nmodel name\t: Synthetic CPU\n\n"
                );
            }
            fs::write(dir.join("proc/cpuinfo"), text).unwrap();
        }
        sys
    }

    fn build(self) -> (TestDir, Topology) {
        let dir = temp_dir();
        let sys = self.write(dir.path());
        let topo = Topology::from_sysfs(&sys).unwrap();
        (dir, topo)
    }
}

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs)
}

fn map(topo: &Topology, env: &Env, family: Family, variant: Variant) -> NodeMap {
    topo.node_map(env, family, variant).unwrap_or_else(|e| panic!("{family:?}/{variant:?}: {e}"))
}

fn pairs(m: &NodeMap) -> Vec<(NodeId, Vec<NodeId>)> {
    m.iter().map(|(c, n)| (c, n.to_vec())).collect()
}

fn err(topo: &Topology, env: &Env, family: Family, variant: Variant) -> ClassifyError {
    topo.node_map(env, family, variant).unwrap_err()
}

// ---------------------------------------------------------------------------------------
// (a) Two sockets, each with a CXL memory expander. Node 2 was onlined from a dax device by
// kmem (KMEM DAX); node 3 is plain CXL memory, and the only dax device aimed at it is in
// device_dax mode, so it is not KMEM DAX.

fn two_sockets_cxl() -> (TestDir, Topology) {
    Machine::new()
        .node(0, "0-7", 64)
        .node(1, "8-15", 64)
        .node(2, "", 256)
        .node(3, "", 128)
        .hmat(0, access(&[0], 100_000, 100_000, 100))
        .hmat(1, access(&[1], 100_000, 100_000, 100))
        .hmat(2, access(&[0], 30_000, 30_000, 250))
        .hmat(3, access(&[1], 30_000, 30_000, 250))
        .distance_table(&[&[10, 21, 14, 24], &[21, 10, 24, 14], &[14, 24, 10, 26], &[24, 14, 26, 10]])
        .dax("dax0.0", "kmem", 2)
        .dax("dax1.0", "device_dax", 3)
        .build()
}

#[test]
fn cxl_reads_the_tree() {
    let (_d, t) = two_sockets_cxl();
    assert_eq!(t.all_nodes(), vec![0, 1, 2, 3]);
    assert_eq!(t.regular_nodes(), vec![0, 1]);
    assert_eq!(t.memory_only_nodes(), vec![2, 3]);
    assert_eq!(t.memory_nodes(), vec![0, 1, 2, 3]);
    let n2 = t.node(2).unwrap();
    assert_eq!(n2.mem_total, 256 << 30);
    assert_eq!(n2.mem_free, 128 << 30);
    assert!(n2.cpus.is_empty() && n2.dax_kmem);
    assert!(!t.node(3).unwrap().dax_kmem);
    let h = n2.hmat().unwrap();
    assert_eq!(h.initiators, vec![0]);
    assert_eq!((h.read_bandwidth, h.write_latency), (Some(30_000), Some(250)));
    assert_eq!(t.node(0).unwrap().cpus, (0..8).collect::<Vec<_>>());
    assert_eq!(t.distance(0, 2), 14);
    assert_eq!(t.distance(3, 1), 14);
    assert_eq!(t.cpu_node(9), Some(1));
    assert_eq!(t.cpu_node(16), None);
    assert_eq!(t.cpu_slots(), 16);
    assert_eq!(t.cpu_model(), None);
}

#[test]
fn cxl_classifiers() {
    let (_d, t) = two_sockets_cxl();
    let e = Env::empty();
    // Nothing reaches 200 GB/s: no HBW, and memkind calls the HBW kinds unavailable.
    assert_eq!(t.hbw_source(&e).unwrap(), HbwSource::Hmat { threshold: 204_800 });
    assert_eq!(t.hbw_nodes(&e).unwrap(), Vec::<NodeId>::new());
    let x = err(&t, &e, Family::Hbw, Variant::Closest);
    assert_eq!(x, ClassifyError::NoneFor { family: Family::Hbw, cpu_node: Some(0) });
    assert_eq!(x.memkind_error(), "MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE");

    assert_eq!(t.dax_kmem_nodes(&e).unwrap(), vec![2]);
    let m = map(&t, &e, Family::DaxKmem, Variant::Closest);
    assert_eq!(pairs(&m), vec![(0, vec![2]), (1, vec![2])]);
    assert_eq!(m.get(1), &[2]);
    assert_eq!(m.get(2), &[] as &[NodeId]);
    map(&t, &e, Family::DaxKmem, Variant::Preferred);

    assert_eq!(t.highest_capacity_nodes(), vec![2]);
    let m = map(&t, &e, Family::HighestCapacity, Variant::Preferred);
    assert_eq!(m.union(), vec![2]);

    assert_eq!(t.locality(2), vec![0]);
    assert_eq!(t.locality(3), vec![1]);
    assert_eq!(t.local_domain(0), vec![0, 2]);
    assert_eq!(t.local_domain(1), vec![1, 3]);
    assert_eq!(t.highest_capacity_local(0), vec![2]);
    assert_eq!(t.highest_capacity_local(1), vec![3]);
    assert_eq!(t.lowest_latency_local(0), vec![0]);
    assert_eq!(t.lowest_latency_local(1), vec![1]);
    assert_eq!(t.highest_bandwidth_local(0), vec![0]);
    let m = map(&t, &e, Family::HighestCapacityLocal, Variant::Preferred);
    assert_eq!(pairs(&m), vec![(0, vec![2]), (1, vec![3])]);
    let m = map(&t, &e, Family::LowestLatencyLocal, Variant::Closest);
    assert_eq!(pairs(&m), vec![(0, vec![0]), (1, vec![1])]);
    let m = map(&t, &e, Family::HighestBandwidthLocal, Variant::Preferred);
    assert_eq!(pairs(&m), vec![(0, vec![0]), (1, vec![1])]);
    assert_eq!(t.closest(0, &[1, 2, 3]), vec![2]);
    assert_eq!(t.closest(1, &[0, 2]), vec![0]);
}

#[test]
fn cxl_env_overrides_and_threshold() {
    let (_d, t) = two_sockets_cxl();

    // The threshold decides which HMAT targets count, per initiator.
    let e = env(&[("MEMKIND_HBW_THRESHOLD", "50000")]);
    assert_eq!(t.hbw_nodes(&e).unwrap(), vec![0, 1]);
    let e = env(&[("MEMKIND_HBW_THRESHOLD", "20000")]);
    assert_eq!(t.hbw_nodes(&e).unwrap(), vec![0, 1, 2, 3]);
    let m = map(&t, &e, Family::Hbw, Variant::Closest);
    assert_eq!(pairs(&m), vec![(0, vec![0]), (1, vec![1])]);
    // _ALL over HMAT: what each initiator sees, not every node of the machine.
    let m = map(&t, &e, Family::Hbw, Variant::All);
    assert_eq!(pairs(&m), vec![(0, vec![0, 2]), (1, vec![1, 3])]);
    let bad = env(&[("MEMKIND_HBW_THRESHOLD", "fast")]);
    let x = t.hbw_nodes(&bad).unwrap_err();
    assert_eq!(x.memkind_error(), "MEMKIND_ERROR_ENVIRON");

    // MEMKIND_HBW_NODES wins over HMAT, and the threshold no longer matters.
    let e = env(&[("MEMKIND_HBW_NODES", "2-3"), ("MEMKIND_HBW_THRESHOLD", "fast")]);
    assert_eq!(t.hbw_source(&e).unwrap(), HbwSource::Env);
    assert_eq!(t.hbw_nodes(&e).unwrap(), vec![2, 3]);
    let m = map(&t, &e, Family::Hbw, Variant::Preferred);
    assert_eq!(pairs(&m), vec![(0, vec![2]), (1, vec![3])]);
    let m = map(&t, &e, Family::Hbw, Variant::All);
    assert_eq!(pairs(&m), vec![(0, vec![2, 3]), (1, vec![2, 3])]);
    let e = env(&[("MEMKIND_HBW_NODES", "all")]);
    assert_eq!(t.hbw_nodes(&e).unwrap(), vec![0, 1, 2, 3]);

    // MEMKIND_DAX_KMEM_NODES wins over the dax devices.
    let e = env(&[("MEMKIND_DAX_KMEM_NODES", "3")]);
    assert_eq!(t.dax_kmem_nodes(&e).unwrap(), vec![3]);
    let m = map(&t, &e, Family::DaxKmem, Variant::Closest);
    assert_eq!(pairs(&m), vec![(0, vec![3]), (1, vec![3])]);
    let e = env(&[("MEMKIND_DAX_KMEM_NODES", "2,3")]);
    let m = map(&t, &e, Family::DaxKmem, Variant::Closest);
    assert_eq!(pairs(&m), vec![(0, vec![2]), (1, vec![3])]);

    // Bad lists are ENVIRON errors, not silently ignored.
    for bad in ["9", "", "2-", "x", "-1"] {
        let e = env(&[("MEMKIND_DAX_KMEM_NODES", bad)]);
        let x = t.node_map(&e, Family::DaxKmem, Variant::Closest).unwrap_err();
        assert!(matches!(x, ClassifyError::Env(_)), "{bad:?}: {x:?}");
        let e = env(&[("MEMKIND_HBW_NODES", bad)]);
        assert!(matches!(t.hbw_nodes(&e), Err(ClassifyError::Env(_))), "{bad:?}");
    }
}

// ---------------------------------------------------------------------------------------
// (b) HBM: a two-socket part with on-package HBM in flat mode, found through HMAT; and Knights
// Landing, found through its CPU model.

fn two_sockets_hbm() -> (TestDir, Topology) {
    Machine::new()
        .node(0, "0-3", 64)
        .node(1, "4-7", 64)
        .node(2, "", 16)
        .node(3, "", 16)
        .hmat(0, access(&[0], 120_000, 120_000, 110))
        .hmat(1, access(&[1], 120_000, 120_000, 110))
        // Read 400 GB/s, write 300 GB/s: hwloc's bandwidth, which memkind compares, is the
        // mean, 350 GB/s.
        .hmat(2, access(&[0], 400_000, 300_000, 130))
        .hmat(3, access(&[1], 400_000, 300_000, 130))
        .distance_table(&[&[10, 21, 13, 23], &[21, 10, 23, 13], &[13, 23, 10, 23], &[23, 13, 23, 10]])
        .cpu(6, 143)
        .build()
}

#[test]
fn hbm_from_hmat() {
    let (_d, t) = two_sockets_hbm();
    let e = Env::empty();
    assert!(!t.cpu_model().unwrap().is_knights_landing_or_mill());
    assert_eq!(t.hbw_nodes(&e).unwrap(), vec![2, 3]);
    for v in [Variant::Closest, Variant::Preferred, Variant::All] {
        let m = map(&t, &e, Family::Hbw, v);
        assert_eq!(pairs(&m), vec![(0, vec![2]), (1, vec![3])], "{v:?}");
    }
    assert_eq!(t.dax_kmem_nodes(&e).unwrap(), Vec::<NodeId>::new());
    let x = err(&t, &e, Family::DaxKmem, Variant::Closest);
    assert_eq!(x, ClassifyError::Unavailable { family: Family::DaxKmem });
    assert_eq!(x.memkind_error(), "MEMKIND_ERROR_UNAVAILABLE");

    assert_eq!(t.local_domain(0), vec![0, 2]);
    assert_eq!(t.highest_bandwidth_local(0), vec![2]);
    assert_eq!(t.highest_bandwidth_local(1), vec![3]);
    assert_eq!(t.lowest_latency_local(0), vec![0]);
    assert_eq!(t.highest_capacity_local(1), vec![1]);

    // Two 64 GiB nodes tie for the largest: fine for HIGHEST_CAPACITY, not for _PREFERRED.
    assert_eq!(t.highest_capacity_nodes(), vec![0, 1]);
    assert_eq!(map(&t, &e, Family::HighestCapacity, Variant::Closest).get(1), &[0, 1]);
    let x = err(&t, &e, Family::HighestCapacity, Variant::Preferred);
    assert_eq!(x, ClassifyError::Tie { family: Family::HighestCapacity, cpu_node: None, nodes: vec![0, 1] });
    assert_eq!(x.memkind_error(), "MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE");
}

#[test]
fn hbm_threshold_uses_mean_bandwidth_and_env_wins() {
    let (_d, t) = two_sockets_hbm();
    // 360 GB/s is below the 350 GB/s mean even though reads reach 400 GB/s.
    let e = env(&[("MEMKIND_HBW_THRESHOLD", "360000")]);
    assert_eq!(t.hbw_nodes(&e).unwrap(), Vec::<NodeId>::new());
    assert!(matches!(
        t.node_map(&e, Family::Hbw, Variant::Closest),
        Err(ClassifyError::NoneFor { cpu_node: Some(0), .. })
    ));
    let e = env(&[("MEMKIND_HBW_THRESHOLD", "350000")]);
    assert_eq!(t.hbw_nodes(&e).unwrap(), vec![2, 3]);
    // A low threshold makes DRAM count too, and DRAM is closer.
    let e = env(&[("MEMKIND_HBW_THRESHOLD", "100000")]);
    assert_eq!(t.hbw_nodes(&e).unwrap(), vec![0, 1, 2, 3]);
    assert_eq!(pairs(&map(&t, &e, Family::Hbw, Variant::Closest)), vec![(0, vec![0]), (1, vec![1])]);
    let e = env(&[("MEMKIND_HBW_THRESHOLD", "0")]);
    assert_eq!(t.hbw_nodes(&e).unwrap(), vec![0, 1, 2, 3]);

    let e = env(&[("MEMKIND_HBW_NODES", "1")]);
    assert_eq!(t.hbw_nodes(&e).unwrap(), vec![1]);
    assert_eq!(pairs(&map(&t, &e, Family::Hbw, Variant::Preferred)), vec![(0, vec![1]), (1, vec![1])]);
}

fn knl_snc4() -> (TestDir, Topology) {
    // Knights Landing, SNC-4 flat mode: four quadrants with DDR and CPUs (0-3), four MCDRAM
    // nodes without CPUs (4-7). Distances as the KNL BIOS reports them.
    let d = |a: NodeId, b: NodeId| -> u32 {
        match (a == b, a < 4, b < 4) {
            (true, _, _) => 10,
            (false, true, true) => 21,
            (false, false, false) => 41,
            _ if a % 4 == b % 4 => 31,
            _ => 41,
        }
    };
    Machine::new()
        .node(0, "0-15", 24)
        .node(1, "16-31", 24)
        .node(2, "32-47", 24)
        .node(3, "48-63", 24)
        .node(4, "", 4)
        .node(5, "", 4)
        .node(6, "", 4)
        .node(7, "", 4)
        // HMAT is ignored on KNL: this would make node 0 "HBW" under the HMAT rule.
        .hmat(0, access(&[0], 500_000, 500_000, 100))
        .distances(d)
        .cpu(6, 87)
        .build()
}

#[test]
fn knl_cpu_less_nodes_are_hbw() {
    let (_d, t) = knl_snc4();
    let e = Env::empty();
    assert!(t.cpu_model().unwrap().is_knights_landing_or_mill());
    assert_eq!(t.hbw_source(&e).unwrap(), HbwSource::KnightsLanding);
    assert_eq!(t.hbw_nodes(&e).unwrap(), vec![4, 5, 6, 7]);
    assert_eq!(t.memory_only_nodes(), vec![4, 5, 6, 7]);
    let m = map(&t, &e, Family::Hbw, Variant::Preferred);
    assert_eq!(pairs(&m), vec![(0, vec![4]), (1, vec![5]), (2, vec![6]), (3, vec![7])]);
    let m = map(&t, &e, Family::Hbw, Variant::All);
    assert_eq!(m.get(2), &[4, 5, 6, 7]);
    assert_eq!(t.cpu_node(40), Some(2));
    // A bad threshold does not matter: the HMAT path is not taken on KNL.
    let e = env(&[("MEMKIND_HBW_THRESHOLD", "bad")]);
    assert_eq!(t.hbw_nodes(&e).unwrap(), vec![4, 5, 6, 7]);
    // The variable still wins on KNL.
    let e = env(&[("MEMKIND_HBW_NODES", "0")]);
    assert_eq!(t.hbw_nodes(&e).unwrap(), vec![0]);
    assert_eq!(t.highest_capacity_nodes(), vec![0, 1, 2, 3]);
    // Without HMAT on the MCDRAM nodes, locality comes from distances: each MCDRAM node is
    // strictly closest to its own quadrant.
    assert_eq!(t.local_domain(1), vec![1, 5]);
    assert_eq!(t.highest_capacity_local(1), vec![1]);
}

#[test]
fn knl_quadrant_flat_and_unsupported_layouts() {
    let (_d, t) = Machine::new()
        .node(0, "0-255", 96)
        .node(1, "", 16)
        .distance_table(&[&[10, 31], &[31, 10]])
        .cpu(6, 133)
        .build();
    assert_eq!(t.hbw_nodes(&Env::empty()).unwrap(), vec![1]);
    let m = map(&t, &Env::empty(), Family::Hbw, Variant::Preferred);
    assert_eq!(pairs(&m), vec![(0, vec![1])]);

    // Three memory nodes is no flat-mode layout memkind knows: no HBW, and no HMAT fallback.
    let (_d, t) = Machine::new()
        .node(0, "0-63", 96)
        .node(1, "", 16)
        .node(2, "", 16)
        .hmat(1, access(&[0], 500_000, 500_000, 100))
        .cpu(6, 87)
        .build();
    let e = Env::empty();
    assert_eq!(t.hbw_nodes(&e).unwrap(), Vec::<NodeId>::new());
    assert_eq!(
        err(&t, &e, Family::Hbw, Variant::Closest),
        ClassifyError::Unavailable { family: Family::Hbw }
    );
}

// ---------------------------------------------------------------------------------------
// (c) Eight sockets in two boards of four: CPU nodes 0-7, one memory-only node per socket
// (8 + socket). Sockets 0, 2, 4, 6 have KMEM DAX memory; socket 1's dax device is in
// device_dax mode. Node 15 is equally close to sockets 6 and 7. No HMAT at all.

fn eight_sockets() -> (TestDir, Topology) {
    fn cpu_d(a: NodeId, b: NodeId) -> u32 {
        if a == b {
            10
        } else if a / 4 == b / 4 {
            21
        } else {
            31
        }
    }
    fn d(a: NodeId, b: NodeId) -> u32 {
        match (a < 8, b < 8) {
            _ if a == b => 10,
            (true, true) => cpu_d(a, b),
            (false, false) => cpu_d(a - 8, b - 8) + 22,
            (true, false) | (false, true) => {
                let (c, m) = if a < 8 { (a, b) } else { (b, a) };
                if m == 15 && (c == 6 || c == 7) || c == m - 8 {
                    17
                } else {
                    cpu_d(c, m - 8) + 11
                }
            }
        }
    }
    let mut m = Machine::new();
    for s in 0..8 {
        m = m.node(s, &format!("{}-{}", s * 16, s * 16 + 15), 128);
    }
    for s in 0..8 {
        m = m.node(8 + s, "", 256);
    }
    m.distances(d)
        .dax("dax0.0", "kmem", 8)
        .dax("dax1.0", "device_dax", 9)
        .dax("dax2.0", "kmem", 10)
        .dax("dax4.0", "kmem", 12)
        .dax("dax6.0", "kmem", 14)
        .dax("dax7.0", "kmem", -1)
        .build()
}

#[test]
fn eight_sockets_distance_ties() {
    let (_d, t) = eight_sockets();
    let e = Env::empty();
    assert_eq!(t.all_nodes(), (0..16).collect::<Vec<_>>());
    assert_eq!(t.regular_nodes(), (0..8).collect::<Vec<_>>());
    assert_eq!(t.memory_only_nodes(), (8..16).collect::<Vec<_>>());
    assert_eq!(t.cpu_node(127), Some(7));
    assert_eq!(t.distance(1, 8), 32);
    assert_eq!(t.distance(1, 10), 32);

    // KMEM DAX: kmem-bound devices only; target -1 is no node.
    assert_eq!(t.dax_kmem_nodes(&e).unwrap(), vec![8, 10, 12, 14]);
    let m = map(&t, &e, Family::DaxKmem, Variant::Closest);
    assert_eq!(
        pairs(&m),
        vec![
            (0, vec![8]),
            (1, vec![8, 10]),
            (2, vec![10]),
            (3, vec![8, 10]),
            (4, vec![12]),
            (5, vec![12, 14]),
            (6, vec![14]),
            (7, vec![12, 14]),
        ]
    );
    // DAX_KMEM_PREFERRED fails on the first tie, as memkind does.
    let x = err(&t, &e, Family::DaxKmem, Variant::Preferred);
    assert_eq!(x, ClassifyError::Tie { family: Family::DaxKmem, cpu_node: Some(1), nodes: vec![8, 10] });
    assert_eq!(x.memkind_error(), "MEMKIND_ERROR_RUNTIME");
    let m = map(&t, &e, Family::DaxKmem, Variant::All);
    assert!(m.iter().all(|(_, n)| n == [8, 10, 12, 14]));

    // HBW by variable: each socket's own node, or a tie between two equally remote ones.
    let e8 = env(&[("MEMKIND_HBW_NODES", "8-15")]);
    let m = map(&t, &e8, Family::Hbw, Variant::Closest);
    assert_eq!(m.get(0), &[8]);
    assert_eq!(m.get(6), &[14, 15], "node 15 is as close to socket 6 as node 14");
    assert_eq!(m.get(7), &[15]);
    assert_eq!(
        err(&t, &e8, Family::Hbw, Variant::Preferred),
        ClassifyError::Tie { family: Family::Hbw, cpu_node: Some(6), nodes: vec![14, 15] }
    );
    let e2 = env(&[("MEMKIND_HBW_NODES", "9,11")]);
    let m = map(&t, &e2, Family::Hbw, Variant::Closest);
    assert_eq!(m.get(0), &[9, 11]);
    assert_eq!(m.get(4), &[9, 11]);
    assert_eq!(m.get(1), &[9]);
    assert!(matches!(
        t.node_map(&e2, Family::Hbw, Variant::Preferred),
        Err(ClassifyError::Tie { cpu_node: Some(0), .. })
    ));

    // No HMAT: no HBW by detection, and the latency/bandwidth kinds are unavailable.
    assert_eq!(t.hbw_nodes(&e).unwrap(), Vec::<NodeId>::new());
    assert!(matches!(
        t.node_map(&e, Family::LowestLatencyLocal, Variant::Closest),
        Err(ClassifyError::NoneFor { cpu_node: Some(0), .. })
    ));
    assert!(t.node_map(&e, Family::HighestBandwidthLocal, Variant::Closest).is_err());

    // Capacity: eight 256 GiB nodes tie machine-wide.
    assert_eq!(t.highest_capacity_nodes(), (8..16).collect::<Vec<_>>());
    assert!(t.node_map(&e, Family::HighestCapacity, Variant::Preferred).is_err());

    // Locality by distance: node 8+s is local to socket s, except node 15, which ties
    // between sockets 6 and 7 and so belongs to the whole machine.
    assert_eq!(t.locality(9), vec![1]);
    assert_eq!(t.locality(15), (0..8).collect::<Vec<_>>());
    assert_eq!(t.local_domain(6), vec![6, 14]);
    assert_eq!(t.local_domain(7), vec![7]);
    let m = map(&t, &e, Family::HighestCapacityLocal, Variant::Preferred);
    assert_eq!(m.get(3), &[11]);
    assert_eq!(m.get(7), &[7]);
}

// ---------------------------------------------------------------------------------------
// Reading details.

#[test]
fn access1_is_preferred_over_access0() {
    // access0 lists a generic initiator (node 1 has no CPUs) next to node 0; access1 lists
    // CPUs only, with its own figures. hwloc, and so memkind, uses access1.
    let (_d, t) = Machine::new()
        .node(0, "0-3", 32)
        .node(1, "", 0)
        .node(2, "", 64)
        .hmat(0, access(&[0], 100_000, 100_000, 90))
        .hmat(2, access(&[0, 1], 900_000, 900_000, 80))
        .hmat1(2, access(&[0], 250_000, 250_000, 120))
        .build();
    let n2 = t.node(2).unwrap();
    assert_eq!(n2.hmat().unwrap().bandwidth(), Some(250_000));
    assert_eq!(n2.access0.as_ref().unwrap().initiators, vec![0, 1]);
    assert_eq!(t.locality(2), vec![0]);
    assert_eq!(t.lowest_latency_local(0), vec![0]);
    assert_eq!(t.highest_bandwidth_local(0), vec![2]);
    assert_eq!(t.hbw_nodes(&Env::empty()).unwrap(), vec![2]);
    // A node with neither CPUs nor memory is online but not a memory node.
    assert_eq!(t.memory_nodes(), vec![0, 2]);
    assert_eq!(t.memory_only_nodes(), vec![2]);
}

#[test]
fn nodes_found_without_online_file() {
    let (_d, t) = Machine::new().node(0, "0-1", 8).node(2, "2-3", 8).without_online_file().build();
    assert_eq!(t.all_nodes(), vec![0, 2]);
    assert_eq!(t.cpu_node(3), Some(2));
}

#[test]
fn kernel_without_numa_is_one_node() {
    let dir = temp_dir();
    let sys = dir.path().join("sys");
    fs::create_dir_all(sys.join("devices/system/cpu")).unwrap();
    fs::write(sys.join("devices/system/cpu/online"), "0-3\n").unwrap();
    fs::create_dir_all(dir.path().join("proc")).unwrap();
    fs::write(dir.path().join("proc/meminfo"), "MemTotal:  1024 kB\nMemFree:  512 kB\n").unwrap();
    let t = Topology::from_sysfs(&sys).unwrap();
    assert_eq!(t.all_nodes(), vec![0]);
    let n = t.node(0).unwrap();
    assert_eq!((n.cpus.len(), n.mem_total, n.mem_free), (4, 1 << 20, 1 << 19));
    assert_eq!(t.regular_nodes(), vec![0]);
}
