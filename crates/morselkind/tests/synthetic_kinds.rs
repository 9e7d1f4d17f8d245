//! Which nodes, and which policy, every NUMA static kind chooses on synthetic machines, as
//! memkind would. Expected answers are written out by hand from memkind's rules (`man memkind`).

use std::collections::BTreeMap;

use morsel::sys::{MPOL_BIND, MPOL_INTERLEAVE, MPOL_PREFERRED};
use morselkind::placements;
use morselkind::{Error, Placements, StaticKind as S};
use topology::{Env, Hmat, Node, Topology};

const G: u64 = 1 << 30;

/// A node: id, CPUs, distances to every node, size, and HMAT figures as seen from `initiators`.
fn node(id: u32, cpus: &[u32], dist: &[u32], gib: u64, hmat: Option<(&[u32], u64, u64)>, dax: bool) -> Node {
    let access = hmat.map(|(init, bw, lat)| Hmat {
        initiators: init.to_vec(),
        read_bandwidth: Some(bw),
        write_bandwidth: Some(bw),
        read_latency: Some(lat),
        write_latency: Some(lat),
    });
    Node {
        id,
        cpus: cpus.to_vec(),
        distances: dist.iter().enumerate().map(|(i, d)| (i as u32, *d)).collect::<BTreeMap<_, _>>(),
        mem_total: gib * G,
        mem_free: gib * G,
        access0: access.clone(),
        access1: access,
        dax_kmem: dax,
    }
}

/// (policy, nodes) for a thread on `cpu_node`.
fn choice(k: S, t: &Topology, env: &Env, cpu_node: usize) -> Result<(i32, Vec<u32>), Error> {
    Ok(match placements(k, t, env)? {
        Placements::None => (0, vec![]),
        Placements::All(p) => (p.mode, p.nodes().collect()),
        Placements::PerNode(m) => {
            let p = m[cpu_node].ok_or(Error::MemtypeNotAvailable)?;
            (p.mode, p.nodes().collect())
        }
    })
}

/// Two sockets, each with a CXL memory expander; node 2 is onlined through dax/kmem, node 3
/// is a plain memory-only node.
fn two_sockets_two_cxl() -> Topology {
    Topology::from_nodes(
        vec![
            node(0, &[0, 1, 2, 3], &[10, 21, 14, 24], 64, Some((&[0], 100_000, 100)), false),
            node(1, &[4, 5, 6, 7], &[21, 10, 24, 14], 64, Some((&[1], 100_000, 100)), false),
            node(2, &[], &[14, 24, 10, 26], 256, Some((&[0], 30_000, 250)), true),
            node(3, &[], &[24, 14, 26, 10], 128, Some((&[1], 30_000, 250)), false),
        ],
        None,
    )
}

#[test]
fn two_sockets_with_cxl_expanders() {
    let t = two_sockets_two_cxl();
    let env = Env::empty();
    assert_eq!(choice(S::Default, &t, &env, 0), Ok((0, vec![])));
    assert_eq!(choice(S::Regular, &t, &env, 1), Ok((MPOL_BIND, vec![0, 1])));
    assert_eq!(choice(S::Interleave, &t, &env, 0), Ok((MPOL_INTERLEAVE, vec![0, 1, 2, 3])));
    for cpu in [0, 1] {
        // Only node 2 is KMEM DAX: node 3 is memory-only but was not onlined through kmem.
        assert_eq!(choice(S::DaxKmem, &t, &env, cpu), Ok((MPOL_BIND, vec![2])));
        assert_eq!(choice(S::DaxKmemAll, &t, &env, cpu), Ok((MPOL_BIND, vec![2])));
        assert_eq!(choice(S::DaxKmemPreferred, &t, &env, cpu), Ok((MPOL_PREFERRED, vec![2])));
        assert_eq!(choice(S::DaxKmemInterleave, &t, &env, cpu), Ok((MPOL_INTERLEAVE, vec![2])));
        assert_eq!(choice(S::HighestCapacity, &t, &env, cpu), Ok((MPOL_BIND, vec![2])));
        assert_eq!(choice(S::HighestCapacityPreferred, &t, &env, cpu), Ok((MPOL_PREFERRED, vec![2])));
        // The local domain of a socket is itself plus its own expander.
        assert_eq!(choice(S::LowestLatencyLocal, &t, &env, cpu), Ok((MPOL_BIND, vec![cpu as u32])));
        assert_eq!(choice(S::HighestBandwidthLocal, &t, &env, cpu), Ok((MPOL_BIND, vec![cpu as u32])));
    }
    assert_eq!(choice(S::HighestCapacityLocal, &t, &env, 0), Ok((MPOL_BIND, vec![2])));
    assert_eq!(choice(S::HighestCapacityLocal, &t, &env, 1), Ok((MPOL_BIND, vec![3])));
    assert_eq!(choice(S::HighestCapacityLocalPreferred, &t, &env, 1), Ok((MPOL_PREFERRED, vec![3])));
    // No node reaches the HBW bandwidth threshold.
    assert!(choice(S::Hbw, &t, &env, 0).is_err());
    assert!(choice(S::HbwAll, &t, &env, 0).is_err());
    // The environment wins over detection.
    let env = Env::from_pairs(&[("MEMKIND_DAX_KMEM_NODES", "3"), ("MEMKIND_HBW_NODES", "2")]);
    assert_eq!(choice(S::DaxKmem, &t, &env, 0), Ok((MPOL_BIND, vec![3])));
    assert_eq!(choice(S::Hbw, &t, &env, 1), Ok((MPOL_BIND, vec![2])));
    assert_eq!(choice(S::HbwInterleave, &t, &env, 1), Ok((MPOL_INTERLEAVE, vec![2])));
}

#[test]
fn machine_with_hbm() {
    let t = Topology::from_nodes(
        vec![
            node(0, &[0, 1], &[10, 21, 11, 21], 96, Some((&[0], 100_000, 100)), false),
            node(1, &[2, 3], &[21, 10, 21, 11], 96, Some((&[1], 100_000, 100)), false),
            node(2, &[], &[11, 21, 10, 22], 16, Some((&[0], 400_000, 150)), false),
            node(3, &[], &[21, 11, 22, 10], 16, Some((&[1], 400_000, 150)), false),
        ],
        None,
    );
    let env = Env::empty();
    assert_eq!(choice(S::Hbw, &t, &env, 0), Ok((MPOL_BIND, vec![2])));
    assert_eq!(choice(S::Hbw, &t, &env, 1), Ok((MPOL_BIND, vec![3])));
    assert_eq!(choice(S::HbwPreferred, &t, &env, 1), Ok((MPOL_PREFERRED, vec![3])));
    assert_eq!(choice(S::HbwHugetlb, &t, &env, 0), Ok((MPOL_BIND, vec![2])));
    assert_eq!(choice(S::HighestBandwidthLocal, &t, &env, 0), Ok((MPOL_BIND, vec![2])));
    assert_eq!(choice(S::LowestLatencyLocal, &t, &env, 1), Ok((MPOL_BIND, vec![1])));
    // HBM is not KMEM DAX.
    assert!(choice(S::DaxKmem, &t, &env, 0).is_err());
    // Raising the threshold above the HBM's bandwidth leaves no HBW node.
    let env = Env::from_pairs(&[("MEMKIND_HBW_THRESHOLD", "500000")]);
    assert!(choice(S::Hbw, &t, &env, 0).is_err());
}

#[test]
fn distance_ties() {
    // Two DAX nodes at the same distance from socket 0: DAX_KMEM binds to both, and the
    // PREFERRED kind cannot choose (memkind's MEMKIND_ERROR_RUNTIME).
    let t = Topology::from_nodes(
        vec![
            node(0, &[0, 1], &[10, 20, 17, 17], 32, None, false),
            node(1, &[2, 3], &[20, 10, 28, 28], 32, None, false),
            node(2, &[], &[17, 28, 10, 28], 64, None, true),
            node(3, &[], &[17, 28, 28, 10], 64, None, true),
        ],
        None,
    );
    let env = Env::empty();
    assert_eq!(choice(S::DaxKmem, &t, &env, 0), Ok((MPOL_BIND, vec![2, 3])));
    assert_eq!(choice(S::DaxKmemPreferred, &t, &env, 0), Err(Error::Runtime));
    // Two nodes of the same, largest size: HIGHEST_CAPACITY takes both; its PREFERRED form fails.
    assert_eq!(choice(S::HighestCapacity, &t, &env, 1), Ok((MPOL_BIND, vec![2, 3])));
    assert!(choice(S::HighestCapacityPreferred, &t, &env, 1).is_err());
}
