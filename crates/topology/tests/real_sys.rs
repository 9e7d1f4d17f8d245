//! The machine the tests run on, read from the real /sys.

use topology::{Env, Family, Topology, Variant};

#[test]
fn this_machine_has_node_0_with_cpus_and_memory() {
    let t = Topology::system().unwrap();
    let n0 = t.node(0).expect("node 0");
    assert!(n0.has_cpus(), "node 0 has no CPUs: {n0:?}");
    assert!(n0.has_memory(), "node 0 has no memory: {n0:?}");
    assert!(n0.mem_free <= n0.mem_total);
    assert!(t.regular_nodes().contains(&0));

    let cpu = Topology::current_cpu().expect("sched_getcpu");
    let node = t.cpu_node(cpu).expect("current CPU is in a node");
    assert_eq!(t.current_node(), Some(node));

    let env = Env::empty();
    let m = t.node_map(&env, Family::HighestCapacity, Variant::Closest).unwrap();
    assert!(!m.get(node).is_empty());
    let local = t.local_domain(node);
    assert!(local.contains(&node));
}
