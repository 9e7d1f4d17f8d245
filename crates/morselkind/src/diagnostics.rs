//! What setting a static kind up came to, in words: memkind's `Initializing kind` line and its
//! errors (`MEMKIND_DEBUG=1`), and morselkind's notes on the machine and on the placement and
//! pages each kind got (`MORSELKIND_DEBUG=1`).
//!
//! It only reports: it decides nothing, and computes nothing when no message is asked for.

use morsel::sys;
use topology::{ClassifyError, Family};

use crate::error::Result;
use crate::log::{self, note, Line};
use crate::machine::{current_node, machine, Machine};
use crate::provider::Placements;
use crate::statics::{placements, NodeRule, Pages, StaticKind};

/// Says what setting a static kind up on first use came to (called once per kind, by
/// `Kind::ready`): memkind's `Initializing kind` line and, when the kind is unavailable, its
/// error with the reason; with `MORSELKIND_DEBUG=1`, the nodes detected (the first time) and
/// the placement and page choices made, or why the kind is unavailable. Does nothing (and
/// computes nothing) when neither variable asks for messages.
pub(crate) fn report(k: StaticKind, outcome: &Result<()>) {
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
            let classified = match k.info().placement {
                NodeRule::Family { family, variant, .. } => {
                    m.topology.node_map(&m.env, family, variant).err()
                }
                _ => None,
            };
            match &classified {
                Some(c) => {
                    log::error(|l| classify_message(l, c));
                    log::note(|l| {
                        l.s(k.name().as_bytes()).s(b" is unavailable: ");
                        classify_message(l, c);
                    });
                }
                None if k.info().pages.hugetlb() => {
                    log::error(|l| {
                        l.s(b"Persistent hugepages and overcommit hugepages are not available.");
                    });
                    log::note(|l| {
                        l.s(k.name().as_bytes()).s(
                            b" is unavailable: no 2 MiB hugetlbfs pages are reserved (vm.nr_hugepages is 0)",
                        );
                    });
                }
                None if k.info().pages == Pages::Thp && !morsel::caps().thp_usable() => {
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
fn classify_message(l: &mut Line, e: &ClassifyError) {
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

fn thp_words(l: &mut Line) {
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
    match k.info().pages {
        Pages::Thp => note(|l| {
            l.s(name).s(b": 2 MiB morsels marked MADV_HUGEPAGE and populated at once (");
            thp_words(l);
            l.s(b")");
        }),
        Pages::NoHuge => note(|l| {
            l.s(name).s(b": never huge pages (MADV_NOHUGEPAGE), as memkind");
        }),
        p if p.hugetlb() => note(|l| {
            l.s(name)
                .s(b": 2 MiB hugetlbfs pages, populated at once (")
                .n(morsel::caps::probe().hugetlb_2m_total)
                .s(b" reserved)");
        }),
        _ => {}
    }
}
