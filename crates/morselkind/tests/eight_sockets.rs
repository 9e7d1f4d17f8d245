//! An 8-socket, 16-node machine with HMAT, written as a sysfs tree and read back with
//! `Topology::from_sysfs`, and the node table every static kind gets on it: policy and nodes
//! for a thread on each socket. The expected table is written out by hand from memkind's
//! documented rules (`man memkind`, MEMKIND-FACTS.md), not computed.
//!
//! The machine (16 nodes, 32 CPUs):
//!
//! | node | what | CPUs | size | HMAT from its socket | local to |
//! |---|---|---|---|---|---|
//! | 0-7 | DRAM of socket s = node | 4s..4s+3 | 64 GiB | 100 000 MB/s, 100 ns | itself |
//! | 8-11 | HBM of socket s = node - 8 (s = 0-3) | none | 16 GiB | 409 600 MB/s, 130 ns | socket s |
//! | 12-15 | CXL memory of socket s = node - 8 (s = 4-7), onlined from dax0-3 by kmem | none | 256 GiB (node 15: 512 GiB) | 30 000 MB/s, 250 ns | socket s |
//!
//! SLIT distances: a node to itself 10; a socket to its own HBM or CXL node 11; between
//! sockets, 16 within a half (sockets 0-3, 4-7), 22 to the *mirror* socket of the other half
//! (s and s ± 4), 28 otherwise; a memory-only node is one further than its socket, two when
//! both ends are memory-only. So the closest HBM of socket 4-7 is its mirror's, and the closest
//! CXL node of socket 0-3 is its mirror's: every "closest" below is a single node, and no
//! `_PREFERRED` kind meets a tie.

use std::fs;
use std::path::{Path, PathBuf};

use morsel::sys::{MPOL_BIND, MPOL_INTERLEAVE, MPOL_PREFERRED};
use morselkind::{placements, Placements, StaticKind as S};
use test_support::fs::TestDir;
use topology::{Env, Topology};

const SOCKETS: u32 = 8;
const NODES: u32 = 16;
const GIB_KB: u64 = 1 << 20;

/// The socket a node belongs to.
fn socket(n: u32) -> u32 {
    if n < SOCKETS {
        n
    } else {
        n - SOCKETS
    }
}

fn socket_distance(s: u32, t: u32) -> u32 {
    if s == t {
        10
    } else if s / 4 == t / 4 {
        16
    } else if s % 4 == t % 4 {
        22
    } else {
        28
    }
}

fn distance(a: u32, b: u32) -> u32 {
    if a == b {
        return 10;
    }
    let memory_only = u32::from(a >= SOCKETS) + u32::from(b >= SOCKETS);
    if socket(a) == socket(b) {
        return 11;
    }
    socket_distance(socket(a), socket(b)) + memory_only
}

/// (size in GiB, bandwidth MB/s, latency ns) of node `n`, as seen from its own socket.
fn figures(n: u32) -> (u64, u64, u64) {
    match n {
        0..=7 => (64, 100_000, 100),
        8..=11 => (16, 409_600, 130),
        15 => (512, 30_000, 250),
        _ => (256, 30_000, 250),
    }
}

/// Writes the machine under `dir` as sysfs (`dir/sys`) and returns the sysfs root.
fn write_machine(dir: &Path) -> PathBuf {
    let sys = dir.join("sys");
    let node_dir = sys.join("devices/system/node");
    fs::create_dir_all(&node_dir).unwrap();
    fs::write(node_dir.join("online"), format!("0-{}\n", NODES - 1)).unwrap();
    fs::write(node_dir.join("possible"), format!("0-{}\n", NODES - 1)).unwrap();
    for n in 0..NODES {
        let d = node_dir.join(format!("node{n}"));
        fs::create_dir_all(&d).unwrap();
        let cpus = if n < SOCKETS { format!("{}-{}", 4 * n, 4 * n + 3) } else { String::new() };
        fs::write(d.join("cpulist"), format!("{cpus}\n")).unwrap();
        let row: Vec<String> = (0..NODES).map(|to| distance(n, to).to_string()).collect();
        fs::write(d.join("distance"), format!("{}\n", row.join(" "))).unwrap();
        let (gib, bw, lat) = figures(n);
        let kb = gib * GIB_KB;
        fs::write(
            d.join("meminfo"),
            format!(
                "Node {n} MemTotal: {kb:>15} kB\nNode {n} MemFree: {:>16} kB\nNode {n} MemUsed: {:>16} kB\n",
                kb / 2,
                kb / 2
            ),
        )
        .unwrap();
        // HMAT: every node's best initiator is its own socket, for both access classes.
        for class in ["access0", "access1"] {
            let init = d.join(class).join("initiators");
            fs::create_dir_all(&init).unwrap();
            let s = socket(n);
            std::os::unix::fs::symlink(format!("../../../node{s}"), init.join(format!("node{s}"))).unwrap();
            for (file, v) in [
                ("read_bandwidth", bw),
                ("write_bandwidth", bw),
                ("read_latency", lat),
                ("write_latency", lat),
            ] {
                fs::write(init.join(file), format!("{v}\n")).unwrap();
            }
        }
    }
    // The CXL nodes 12-15 were onlined from dax0.0-dax3.0 by the kmem driver.
    for (i, target) in (12..NODES).enumerate() {
        let d = sys.join("bus/dax/devices").join(format!("dax{i}.0"));
        fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::symlink("../../../../bus/dax/drivers/kmem", d.join("driver")).unwrap();
        fs::write(d.join("target_node"), format!("{target}\n")).unwrap();
        fs::write(d.join("numa_node"), format!("{}\n", socket(target))).unwrap();
    }
    sys
}

/// What a kind should do on the machine.
#[derive(Debug)]
enum Expect {
    /// No binding at all (memkind's DEFAULT, HUGETLB, GBTLB; our HUGE).
    NoBinding,
    /// The same policy and nodes whatever the calling socket.
    All(i32, &'static [u32]),
    /// The policy, and the nodes for a thread on socket 0, 1, ..., 7.
    PerSocket(i32, [&'static [u32]; 8]),
    /// memkind_check_available fails (no suitable node for some socket).
    Unavailable,
}

use Expect::{All, NoBinding, PerSocket, Unavailable};

/// What every static kind does on the machine with no MEMKIND_* variables set.
fn expected(k: S) -> Expect {
    // The closest KMEM DAX node of each socket: its own for sockets 4-7, its mirror's for 0-3.
    const OWN_OR_MIRROR_CXL: [&[u32]; 8] = [&[12], &[13], &[14], &[15], &[12], &[13], &[14], &[15]];
    match k {
        // "Allocate from standard memory" / huge pages: no binding.
        S::Default | S::Hugetlb | S::Gbtlb | S::Huge => NoBinding,
        // "general purpose memory from the NUMA nodes containing CPUs".
        S::Regular => All(MPOL_BIND, &[0, 1, 2, 3, 4, 5, 6, 7]),
        // Interleaved over all nodes with memory.
        S::Interleave => All(MPOL_INTERLEAVE, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
        // HBW from HMAT (no MEMKIND_HBW_NODES, not a Knights Landing): sockets 4-7 see no node
        // at 204800 MB/s or more among their initiator's targets, so the HBW kinds cannot be
        // served (memkind fails the whole kind, whichever CPU asks).
        S::Hbw
        | S::HbwAll
        | S::HbwPreferred
        | S::HbwInterleave
        | S::HbwHugetlb
        | S::HbwAllHugetlb
        | S::HbwPreferredHugetlb
        | S::HbwGbtlb
        | S::HbwPreferredGbtlb => Unavailable,
        // "the closest persistent memory NUMA node": the KMEM DAX nodes are 12-15.
        S::DaxKmem => PerSocket(MPOL_BIND, OWN_OR_MIRROR_CXL),
        S::DaxKmemPreferred => PerSocket(MPOL_PREFERRED, OWN_OR_MIRROR_CXL),
        // _ALL: bound to all KMEM DAX nodes; _INTERLEAVE: interleaved across all of them.
        S::DaxKmemAll => All(MPOL_BIND, &[12, 13, 14, 15]),
        S::DaxKmemInterleave => All(MPOL_INTERLEAVE, &[12, 13, 14, 15]),
        // "the highest capacity among all nodes in the system": node 15 alone, 512 GiB.
        S::HighestCapacity => All(MPOL_BIND, &[15]),
        S::HighestCapacityPreferred => All(MPOL_PREFERRED, &[15]),
        // _LOCAL: within the socket's local domain (its DRAM node and its memory-only node):
        // sockets 0-3 have DRAM 64 GiB / 100 ns / 100 GB/s beside HBM 16 GiB / 130 ns / 400
        // GB/s; sockets 4-7 have DRAM beside CXL 256-512 GiB / 250 ns / 30 GB/s.
        S::HighestCapacityLocal => PerSocket(MPOL_BIND, [&[0], &[1], &[2], &[3], &[12], &[13], &[14], &[15]]),
        S::HighestCapacityLocalPreferred => {
            PerSocket(MPOL_PREFERRED, [&[0], &[1], &[2], &[3], &[12], &[13], &[14], &[15]])
        }
        S::LowestLatencyLocal => PerSocket(MPOL_BIND, [&[0], &[1], &[2], &[3], &[4], &[5], &[6], &[7]]),
        S::LowestLatencyLocalPreferred => {
            PerSocket(MPOL_PREFERRED, [&[0], &[1], &[2], &[3], &[4], &[5], &[6], &[7]])
        }
        S::HighestBandwidthLocal => PerSocket(MPOL_BIND, [&[8], &[9], &[10], &[11], &[4], &[5], &[6], &[7]]),
        S::HighestBandwidthLocalPreferred => {
            PerSocket(MPOL_PREFERRED, [&[8], &[9], &[10], &[11], &[4], &[5], &[6], &[7]])
        }
    }
}

/// With MEMKIND_HBW_NODES=8-11 (the documented override of detection): the HBW kinds bind to
/// the closest of those from each socket, own HBM for sockets 0-3, the mirror's for 4-7.
fn expected_with_hbw_nodes(k: S) -> Option<Expect> {
    const CLOSEST: [&[u32]; 8] = [&[8], &[9], &[10], &[11], &[8], &[9], &[10], &[11]];
    Some(match k {
        S::Hbw | S::HbwHugetlb | S::HbwGbtlb => PerSocket(MPOL_BIND, CLOSEST),
        S::HbwPreferred | S::HbwPreferredHugetlb | S::HbwPreferredGbtlb => PerSocket(MPOL_PREFERRED, CLOSEST),
        // "bound to all HBW nodes"; "interleaved across all high bandwidth nodes".
        S::HbwAll | S::HbwAllHugetlb => All(MPOL_BIND, &[8, 9, 10, 11]),
        S::HbwInterleave => All(MPOL_INTERLEAVE, &[8, 9, 10, 11]),
        _ => return None,
    })
}

fn check(k: S, t: &Topology, env: &Env, want: &Expect) {
    let got = placements(k, t, env);
    let show = |p: &Placements| match p {
        Placements::None => "no binding".to_string(),
        Placements::All(p) => format!("all: mode {} nodes {:?}", p.mode, p.nodes().collect::<Vec<_>>()),
        Placements::PerNode(m) => format!(
            "per socket: {:?}",
            (0..SOCKETS as usize)
                .map(|c| m[c].map(|p| (p.mode, p.nodes().collect::<Vec<_>>())))
                .collect::<Vec<_>>()
        ),
    };
    match (want, &got) {
        (NoBinding, Ok(Placements::None)) | (Unavailable, Err(_)) => {}
        (All(mode, nodes), Ok(Placements::All(p))) => {
            assert_eq!((p.mode, p.nodes().collect::<Vec<_>>()), (*mode, nodes.to_vec()), "{k:?}");
        }
        (All(mode, nodes), Ok(Placements::PerNode(m))) => {
            // The same answer for every socket is as good as one answer for all.
            for c in 0..SOCKETS as usize {
                let p = m[c].unwrap_or_else(|| panic!("{k:?}: no placement for socket {c}"));
                assert_eq!(
                    (p.mode, p.nodes().collect::<Vec<_>>()),
                    (*mode, nodes.to_vec()),
                    "{k:?} socket {c}"
                );
            }
        }
        (PerSocket(mode, table), Ok(Placements::PerNode(m))) => {
            for (c, nodes) in table.iter().enumerate() {
                let p = m[c].unwrap_or_else(|| panic!("{k:?}: no placement for socket {c}"));
                assert_eq!(
                    (p.mode, p.nodes().collect::<Vec<_>>()),
                    (*mode, nodes.to_vec()),
                    "{k:?} socket {c}"
                );
            }
            // Memory-only nodes run no threads: no placement is asked for them.
            for c in SOCKETS as usize..NODES as usize {
                assert!(m[c].is_none(), "{k:?}: a placement for CPU-less node {c}");
            }
        }
        _ => panic!(
            "{k:?}: expected {want:?}, got {}",
            match &got {
                Ok(p) => show(p),
                Err(e) => format!("error {e:?}"),
            }
        ),
    }
}

fn machine() -> (TestDir, Topology) {
    let dir = TestDir::new(&std::env::temp_dir(), "eight-sockets");
    let sys = write_machine(dir.path());
    let t = Topology::from_sysfs(&sys).unwrap();
    (dir, t)
}

#[test]
fn the_tree_reads_back_as_written() {
    let (_dir, t) = machine();
    assert_eq!(t.node_ids(), (0..NODES).collect::<Vec<_>>());
    assert_eq!(t.cpu_node_ids(), (0..SOCKETS).collect::<Vec<_>>());
    assert_eq!(t.regular_nodes(), (0..SOCKETS).collect::<Vec<_>>());
    assert_eq!(t.dax_kmem_nodes(&Env::empty()).unwrap(), vec![12, 13, 14, 15]);
    // HMAT bandwidth at or above 204800 MB/s from some socket: the four HBM nodes.
    assert_eq!(t.hbw_nodes(&Env::empty()).unwrap(), vec![8, 9, 10, 11]);
    assert_eq!(t.highest_capacity_nodes(), vec![15]);
    for s in 0..SOCKETS {
        assert_eq!(t.local_domain(s), vec![s, s + SOCKETS], "local domain of socket {s}");
        assert_eq!(t.distance(s, s + SOCKETS), 11);
    }
    assert_eq!(t.distance(4, 8), 23);
    assert_eq!(t.distance(0, 13), 29);
}

#[test]
fn every_static_kind_gets_memkinds_nodes() {
    let (_dir, t) = machine();
    let env = Env::empty();
    // `expected` matches on every kind: a new static kind does not compile without its row.
    for k in S::all() {
        check(k, &t, &env, &expected(k));
    }
}

#[test]
fn hbw_kinds_with_memkind_hbw_nodes() {
    let (_dir, t) = machine();
    let env = Env::from_pairs(&[("MEMKIND_HBW_NODES", "8-11")]);
    for k in S::all() {
        // The variable changes the HBW kinds only.
        let want = expected_with_hbw_nodes(k).unwrap_or_else(|| expected(k));
        check(k, &t, &env, &want);
    }
}
