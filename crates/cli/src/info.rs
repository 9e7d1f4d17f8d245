//! `morselkind info`: the machine's nodes, huge page and DAX status, every static kind with its
//! nodes or the reason it is unavailable, and the environment options. `--hbw-nodes` and
//! `--dax-kmem-nodes` replace memkind's `memkind-hbw-nodes` and `memkind-auto-dax-kmem-nodes`.

use std::process::ExitCode;

use morsel::ThpMode;
use morselkind::machine;
use topology::{ClassifyError, Family, Hmat, Node, Variant, OPTIONS};

use crate::json::Json;
use crate::report::{self, describe_error, error_name, human, ranges, KindStatus};

/// Arguments of `info`.
#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// Print everything as JSON.
    #[arg(long, conflicts_with_all = ["hbw_nodes", "dax_kmem_nodes"])]
    json: bool,
    /// Print the high-bandwidth nodes as `memkind-hbw-nodes` does (comma list; exit status 1
    /// when there are none).
    #[arg(long, conflicts_with = "dax_kmem_nodes")]
    hbw_nodes: bool,
    /// Print the KMEM DAX nodes as `memkind-auto-dax-kmem-nodes` does (comma list; exit status
    /// 3 when there are none).
    #[arg(long)]
    dax_kmem_nodes: bool,
}

pub fn run(args: &InfoArgs) -> ExitCode {
    if args.hbw_nodes {
        return node_list(Family::Hbw, 1);
    }
    if args.dax_kmem_nodes {
        return node_list(Family::DaxKmem, 3);
    }
    let cpu_node = report::current_node();
    let kinds = report::static_kinds(cpu_node);
    if args.json {
        print!("{}", to_json(cpu_node, &kinds).pretty());
    } else {
        print_text(cpu_node, &kinds);
    }
    ExitCode::SUCCESS
}

/// memkind's tools print the nodes of `memkind_{hbw,dax_kmem}_all_get_mbind_nodemask`: the
/// family's nodes for every CPU node (the `_ALL` variant), comma-separated, then a newline.
/// On failure they print nothing and exit with `fail_status` (1 for HBW, 3 for DAX KMEM).
fn node_list(family: Family, fail_status: u8) -> ExitCode {
    let m = machine();
    match m.topology.node_map(&m.env, family, Variant::All) {
        Ok(map) => {
            println!("{}", topology::format_list(&map.union()));
            ExitCode::SUCCESS
        }
        Err(e) => {
            // libnuma warns about a variable it cannot parse; memkind itself is silent
            // unless MEMKIND_DEBUG=1.
            if matches!(e, ClassifyError::Env(_)) {
                eprintln!("morselkind: {e}");
            } else if m.env.debug() || m.env.morselkind_debug() {
                eprintln!("<memkind> {e} ({})", e.memkind_error());
            }
            ExitCode::from(fail_status)
        }
    }
}

fn thp_name(mode: ThpMode) -> &'static str {
    match mode {
        ThpMode::Always => "always",
        ThpMode::Madvise => "madvise",
        ThpMode::Never => "never",
        ThpMode::Unsupported => "unsupported",
    }
}

fn family_nodes(family: Family) -> Result<Vec<u32>, ClassifyError> {
    let m = machine();
    m.topology.node_map(&m.env, family, Variant::All).map(|map| map.union())
}

fn node_kind(n: &Node) -> &'static str {
    match (n.has_cpus(), n.has_memory()) {
        (true, true) => "cpu+memory",
        (true, false) => "cpu only",
        (false, true) => "memory only",
        (false, false) => "empty",
    }
}

fn hmat_text(h: Option<&Hmat>) -> String {
    let Some(h) = h else { return "-".to_string() };
    let f = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    format!(
        "bw r/w {}/{} MB/s, lat r/w {}/{} ns (from {})",
        f(h.read_bandwidth),
        f(h.write_bandwidth),
        f(h.read_latency),
        f(h.write_latency),
        ranges(&h.initiators)
    )
}

fn print_text(cpu_node: u32, kinds: &[KindStatus]) {
    let m = machine();
    let topo = &m.topology;
    let cpus: usize = topo.nodes().iter().map(|n| n.cpus.len()).sum();
    let cpu = topology::Topology::current_cpu().map_or("?".to_string(), |c| c.to_string());
    println!(
        "machine: {} CPUs, {} NUMA node{}; this thread runs on CPU {cpu}, node {cpu_node}",
        cpus,
        topo.nodes().len(),
        if topo.nodes().len() == 1 { "" } else { "s" }
    );
    if let Some(model) = topo.cpu_model() {
        println!("cpu: {} family {} model {}", model.vendor, model.family, model.model);
    }

    println!("\nnodes:");
    println!(
        "  {:<5} {:<10} {:>11} {:>11}  {:<12} {:<6} {:<16} HMAT",
        "node", "cpus", "memory", "free", "type", "kmem", "distances"
    );
    for n in topo.nodes() {
        let dist: Vec<String> = n.distances.values().map(|d| d.to_string()).collect();
        println!(
            "  {:<5} {:<10} {:>11} {:>11}  {:<12} {:<6} {:<16} {}",
            n.id,
            ranges(&n.cpus),
            human(n.mem_total),
            human(n.mem_free),
            node_kind(n),
            if n.dax_kmem { "yes" } else { "no" },
            if dist.is_empty() { "-".to_string() } else { dist.join(" ") },
            hmat_text(n.hmat())
        );
    }

    let caps = morsel::caps();
    println!("\nmemory features:");
    println!("  transparent huge pages: {}", thp_name(caps.thp));
    println!("  hugetlb 2 MiB pages: {} reserved, {} free", caps.hugetlb_2m_total, caps.hugetlb_2m_free);
    println!("  MADV_POPULATE_WRITE: {}", if caps.populate_write { "yes" } else { "no" });
    println!("  memfd_create: {}", if caps.memfd { "yes" } else { "no" });
    for (label, family) in [("high-bandwidth nodes", Family::Hbw), ("KMEM DAX nodes", Family::DaxKmem)] {
        match family_nodes(family) {
            Ok(nodes) => println!("  {label}: {}", ranges(&nodes)),
            Err(e) => println!("  {label}: none ({e}; {})", e.memkind_error()),
        }
    }

    println!("\nkinds (nodes for a thread on CPU node {cpu_node}):");
    for k in kinds {
        match &k.state {
            Ok((nodes, capacity)) => {
                let mut line = format!(
                    "  {:<42} available    nodes {:<8} capacity {}",
                    k.kind.name(),
                    ranges(nodes),
                    human(*capacity as u64)
                );
                if k.by_cpu_node.len() > 1 {
                    let per: Vec<String> =
                        k.by_cpu_node.iter().map(|(c, n)| format!("{c}->{}", ranges(n))).collect();
                    line.push_str(&format!("  (per CPU node: {})", per.join(" ")));
                }
                println!("{line}");
            }
            Err(e) => println!("  {:<42} unavailable  {}", k.kind.name(), describe_error(*e)),
        }
    }

    println!("\nenvironment:");
    for o in OPTIONS {
        let value = m.env.get(o.name).map_or("(unset)".to_string(), |v| format!("{v:?}"));
        println!("  {:<32} {:<10} default: {}", o.name, value, o.default);
        println!("      {}", o.description);
    }
}

fn hmat_json(h: &Option<Hmat>) -> Json {
    Json::opt(h.as_ref().map(|h| {
        let v = |x: Option<u64>| Json::opt(x.map(Json::uint));
        Json::obj([
            ("initiators", Json::ids(&h.initiators)),
            ("read_bandwidth_mbps", v(h.read_bandwidth)),
            ("write_bandwidth_mbps", v(h.write_bandwidth)),
            ("read_latency_ns", v(h.read_latency)),
            ("write_latency_ns", v(h.write_latency)),
        ])
    }))
}

fn nodes_json(r: Result<Vec<u32>, ClassifyError>) -> Json {
    match r {
        Ok(nodes) => Json::obj([("nodes", Json::ids(&nodes))]),
        Err(e) => Json::obj([
            ("nodes", Json::Arr(Vec::new())),
            ("error", Json::str(e.memkind_error())),
            ("reason", Json::str(e.to_string())),
        ]),
    }
}

fn to_json(cpu_node: u32, kinds: &[KindStatus]) -> Json {
    let m = machine();
    let topo = &m.topology;
    let caps = morsel::caps();
    let nodes = topo
        .nodes()
        .iter()
        .map(|n| {
            Json::obj([
                ("id", Json::uint(n.id)),
                ("cpus", Json::ids(&n.cpus)),
                ("mem_total", Json::uint(n.mem_total)),
                ("mem_free", Json::uint(n.mem_free)),
                ("has_cpus", Json::Bool(n.has_cpus())),
                ("memory_only", Json::Bool(n.is_memory_only())),
                ("dax_kmem", Json::Bool(n.dax_kmem)),
                ("distances", Json::obj(n.distances.iter().map(|(to, d)| (to.to_string(), Json::uint(*d))))),
                ("hmat_access0", hmat_json(&n.access0)),
                ("hmat_access1", hmat_json(&n.access1)),
            ])
        })
        .collect();
    let kinds = kinds
        .iter()
        .map(|k| {
            let mut fields = vec![
                ("index".to_string(), Json::uint(k.kind as u32)),
                ("name".to_string(), Json::str(k.kind.name())),
                ("available".to_string(), Json::Bool(k.state.is_ok())),
            ];
            match &k.state {
                Ok((nodes, capacity)) => {
                    fields.push(("nodes".into(), Json::ids(nodes)));
                    fields.push(("capacity".into(), Json::uint(*capacity as u64)));
                    fields.push((
                        "nodes_by_cpu_node".into(),
                        Json::obj(k.by_cpu_node.iter().map(|(c, n)| (c.to_string(), Json::ids(n)))),
                    ));
                }
                Err(e) => {
                    fields.push(("error".into(), Json::str(error_name(*e))));
                    fields.push(("code".into(), Json::Int(e.code().into())));
                    fields.push(("message".into(), Json::str(e.message())));
                }
            }
            Json::Obj(fields)
        })
        .collect();
    let options = OPTIONS
        .iter()
        .map(|o| {
            Json::obj([
                ("name", Json::str(o.name)),
                ("value", Json::opt(m.env.get(o.name).map(Json::str))),
                ("default", Json::str(o.default)),
                ("description", Json::str(o.description)),
            ])
        })
        .collect();
    Json::obj([
        (
            "machine",
            Json::obj([
                ("current_cpu", Json::opt(topology::Topology::current_cpu().map(Json::uint))),
                ("current_node", Json::uint(cpu_node)),
                (
                    "cpu_model",
                    Json::opt(topo.cpu_model().map(|c| {
                        Json::obj([
                            ("vendor", Json::str(c.vendor.clone())),
                            ("family", Json::uint(c.family)),
                            ("model", Json::uint(c.model)),
                        ])
                    })),
                ),
            ]),
        ),
        ("nodes", Json::Arr(nodes)),
        (
            "memory_features",
            Json::obj([
                ("thp", Json::str(thp_name(caps.thp))),
                ("hugetlb_2m_total", Json::uint(caps.hugetlb_2m_total)),
                ("hugetlb_2m_free", Json::uint(caps.hugetlb_2m_free)),
                ("madv_populate_write", Json::Bool(caps.populate_write)),
                ("memfd", Json::Bool(caps.memfd)),
            ]),
        ),
        ("hbw_nodes", nodes_json(family_nodes(Family::Hbw))),
        ("dax_kmem_nodes", nodes_json(family_nodes(Family::DaxKmem))),
        ("kinds", Json::Arr(kinds)),
        ("options", Json::Arr(options)),
    ])
}
