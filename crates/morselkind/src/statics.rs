//! The static kinds: one table row each ([`static_kind_table!`]), and memkind's rules
//! (`man memkind`) for what each row is on this machine: its source and placement, from the
//! topology and the environment. A kind the machine cannot serve gets memkind's error for it,
//! and stays unavailable.
//!
//! Adding a static kind is adding a row: the enum [`StaticKind`], its name, its placement, its
//! pages, its capacity and the C library's exported `memkind_t` variable all come from it.
//! Never anything about the kind table here (`crate::kind` reads this module, not the other
//! way round), nor messages (`crate::diagnostics`).

use morsel::{sys, Source};
use topology::{ClassifyError, Env, Family, MemkindCode, Topology, Variant};

use crate::error::{Error, Result};
use crate::machine::machine;
use crate::provider::{KindSpec, Placement, Placements, ProviderConfig, MAX_NODES};

/// The static kinds, one row each, in memkind's partition order (the table index of a kind is
/// its partition), ours after memkind's:
///
/// `Variant = C_SYMBOL { name, placement: NodeRule, pages: Pages, capacity: Capacity }`
///
/// It hands the rows to the macro named by its argument: this module makes [`StaticKind`] and
/// [`STATIC_KINDS`] of them, and the C library (`ffi/src/kinds.rs`) one exported `memkind_t`
/// variable per row, named by its C symbol.
#[macro_export]
#[doc(hidden)]
macro_rules! static_kind_table {
    ($then:ident) => {
        $then! {
            /// memkind's MEMKIND_DEFAULT: the system's pages, no binding.
            Default = MEMKIND_DEFAULT {
                name: "memkind_default", placement: NodeRule::Any, pages: Pages::Base,
                capacity: Capacity::Nodes,
            }
            /// memkind's MEMKIND_HBW: the closest high-bandwidth nodes, bound.
            Hbw = MEMKIND_HBW {
                name: "memkind_hbw", placement: family(Family::Hbw, Variant::Closest, BIND),
                pages: Pages::Base, capacity: Capacity::Nodes,
            }
            /// memkind's MEMKIND_HBW_HUGETLB.
            HbwHugetlb = MEMKIND_HBW_HUGETLB {
                name: "memkind_hbw_hugetlb", placement: family(Family::Hbw, Variant::Closest, BIND),
                pages: Pages::Hugetlb, capacity: Capacity::Unknown,
            }
            /// memkind's MEMKIND_HBW_PREFERRED.
            HbwPreferred = MEMKIND_HBW_PREFERRED {
                name: "memkind_hbw_preferred",
                placement: family(Family::Hbw, Variant::Preferred, PREFERRED),
                pages: Pages::Base, capacity: Capacity::Unknown,
            }
            /// memkind's MEMKIND_HBW_PREFERRED_HUGETLB.
            HbwPreferredHugetlb = MEMKIND_HBW_PREFERRED_HUGETLB {
                name: "memkind_hbw_preferred_hugetlb",
                placement: family(Family::Hbw, Variant::Preferred, PREFERRED),
                pages: Pages::Hugetlb, capacity: Capacity::Unknown,
            }
            /// memkind's MEMKIND_HUGETLB: reserved 2 MiB pages, no binding.
            Hugetlb = MEMKIND_HUGETLB {
                name: "memkind_hugetlb", placement: NodeRule::Any, pages: Pages::Hugetlb,
                capacity: Capacity::ReservedPages { kib: 2048 },
            }
            /// memkind's MEMKIND_HBW_GBTLB.
            HbwGbtlb = MEMKIND_HBW_GBTLB {
                name: "memkind_hbw_gbtlb", placement: family(Family::Hbw, Variant::Closest, BIND),
                pages: Pages::Gbtlb { needs_gib: true }, capacity: Capacity::Unknown,
            }
            /// memkind's MEMKIND_HBW_PREFERRED_GBTLB.
            HbwPreferredGbtlb = MEMKIND_HBW_PREFERRED_GBTLB {
                name: "memkind_hbw_preferred_gbtlb",
                placement: family(Family::Hbw, Variant::Preferred, PREFERRED),
                pages: Pages::Gbtlb { needs_gib: true }, capacity: Capacity::Unknown,
            }
            /// memkind's MEMKIND_GBTLB.
            Gbtlb = MEMKIND_GBTLB {
                name: "memkind_gbtlb", placement: NodeRule::Any, pages: Pages::Gbtlb { needs_gib: false },
                capacity: Capacity::ReservedPages { kib: 1 << 20 },
            }
            /// memkind's MEMKIND_HBW_INTERLEAVE.
            HbwInterleave = MEMKIND_HBW_INTERLEAVE {
                name: "memkind_hbw_interleave",
                placement: family(Family::Hbw, Variant::All, INTERLEAVE),
                pages: Pages::Base, capacity: Capacity::Nodes,
            }
            /// memkind's MEMKIND_INTERLEAVE: every node with memory, never huge pages.
            Interleave = MEMKIND_INTERLEAVE {
                name: "memkind_interleave", placement: NodeRule::InterleaveAll, pages: Pages::NoHuge,
                capacity: Capacity::Nodes,
            }
            /// memkind's MEMKIND_REGULAR: the nodes with CPUs, bound.
            Regular = MEMKIND_REGULAR {
                name: "memkind_regular", placement: NodeRule::Regular, pages: Pages::Base,
                capacity: Capacity::Nodes,
            }
            /// memkind's MEMKIND_HBW_ALL.
            HbwAll = MEMKIND_HBW_ALL {
                name: "memkind_hbw_all", placement: family(Family::Hbw, Variant::All, BIND),
                pages: Pages::Base, capacity: Capacity::Nodes,
            }
            /// memkind's MEMKIND_HBW_ALL_HUGETLB.
            HbwAllHugetlb = MEMKIND_HBW_ALL_HUGETLB {
                name: "memkind_hbw_all_hugetlb", placement: family(Family::Hbw, Variant::All, BIND),
                pages: Pages::Hugetlb, capacity: Capacity::Unknown,
            }
            /// memkind's MEMKIND_DAX_KMEM.
            DaxKmem = MEMKIND_DAX_KMEM {
                name: "memkind_dax_kmem", placement: family(Family::DaxKmem, Variant::Closest, BIND),
                pages: Pages::Base, capacity: Capacity::Nodes,
            }
            /// memkind's MEMKIND_DAX_KMEM_ALL.
            DaxKmemAll = MEMKIND_DAX_KMEM_ALL {
                name: "memkind_dax_kmem_all", placement: family(Family::DaxKmem, Variant::All, BIND),
                pages: Pages::Base, capacity: Capacity::Nodes,
            }
            /// memkind's MEMKIND_DAX_KMEM_PREFERRED.
            DaxKmemPreferred = MEMKIND_DAX_KMEM_PREFERRED {
                name: "memkind_dax_kmem_preferred",
                placement: family(Family::DaxKmem, Variant::Preferred, PREFERRED),
                pages: Pages::Base, capacity: Capacity::Unknown,
            }
            /// memkind's MEMKIND_DAX_KMEM_INTERLEAVE.
            DaxKmemInterleave = MEMKIND_DAX_KMEM_INTERLEAVE {
                name: "memkind_dax_kmem_interleave",
                placement: family(Family::DaxKmem, Variant::All, INTERLEAVE),
                pages: Pages::Base, capacity: Capacity::Nodes,
            }
            /// memkind's MEMKIND_HIGHEST_CAPACITY.
            HighestCapacity = MEMKIND_HIGHEST_CAPACITY {
                name: "memkind_highest_capacity",
                placement: family(Family::HighestCapacity, Variant::Closest, BIND),
                pages: Pages::Base, capacity: Capacity::Nodes,
            }
            /// memkind's MEMKIND_HIGHEST_CAPACITY_PREFERRED.
            HighestCapacityPreferred = MEMKIND_HIGHEST_CAPACITY_PREFERRED {
                name: "memkind_highest_capacity_preferred",
                placement: family(Family::HighestCapacity, Variant::Preferred, PREFERRED),
                pages: Pages::Base, capacity: Capacity::Unknown,
            }
            /// memkind's MEMKIND_HIGHEST_CAPACITY_LOCAL.
            HighestCapacityLocal = MEMKIND_HIGHEST_CAPACITY_LOCAL {
                name: "memkind_highest_capacity_local",
                placement: family(Family::HighestCapacityLocal, Variant::Closest, BIND),
                pages: Pages::Base, capacity: Capacity::Nodes,
            }
            /// memkind's MEMKIND_HIGHEST_CAPACITY_LOCAL_PREFERRED.
            HighestCapacityLocalPreferred = MEMKIND_HIGHEST_CAPACITY_LOCAL_PREFERRED {
                name: "memkind_highest_capacity_local_preferred",
                placement: family(Family::HighestCapacityLocal, Variant::Preferred, PREFERRED),
                pages: Pages::Base, capacity: Capacity::Unknown,
            }
            /// memkind's MEMKIND_LOWEST_LATENCY_LOCAL.
            LowestLatencyLocal = MEMKIND_LOWEST_LATENCY_LOCAL {
                name: "memkind_lowest_latency_local",
                placement: family(Family::LowestLatencyLocal, Variant::Closest, BIND),
                pages: Pages::Base, capacity: Capacity::Nodes,
            }
            /// memkind's MEMKIND_LOWEST_LATENCY_LOCAL_PREFERRED.
            LowestLatencyLocalPreferred = MEMKIND_LOWEST_LATENCY_LOCAL_PREFERRED {
                name: "memkind_lowest_latency_local_preferred",
                placement: family(Family::LowestLatencyLocal, Variant::Preferred, PREFERRED),
                pages: Pages::Base, capacity: Capacity::Unknown,
            }
            /// memkind's MEMKIND_HIGHEST_BANDWIDTH_LOCAL.
            HighestBandwidthLocal = MEMKIND_HIGHEST_BANDWIDTH_LOCAL {
                name: "memkind_highest_bandwidth_local",
                placement: family(Family::HighestBandwidthLocal, Variant::Closest, BIND),
                pages: Pages::Base, capacity: Capacity::Nodes,
            }
            /// memkind's MEMKIND_HIGHEST_BANDWIDTH_LOCAL_PREFERRED.
            HighestBandwidthLocalPreferred = MEMKIND_HIGHEST_BANDWIDTH_LOCAL_PREFERRED {
                name: "memkind_highest_bandwidth_local_preferred",
                placement: family(Family::HighestBandwidthLocal, Variant::Preferred, PREFERRED),
                pages: Pages::Base, capacity: Capacity::Unknown,
            }
            /// morselkind's own: THP-backed 2 MiB morsels.
            Huge = MORSELKIND_HUGE {
                name: "morselkind_huge", placement: NodeRule::Any, pages: Pages::Thp,
                capacity: Capacity::Nodes,
            }
        }
    };
}

/// Where a static kind's memory goes, before the machine is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRule {
    /// No binding.
    Any,
    /// `MPOL_BIND` over the nodes with CPUs (memkind's REGULAR).
    Regular,
    /// `MPOL_INTERLEAVE` over every node with memory (memkind's INTERLEAVE).
    InterleaveAll,
    /// The nodes of `family` that memkind picks for each CPU node (`variant`), under the mbind
    /// `mode`.
    Family {
        /// Which nodes qualify.
        family: Family,
        /// Which of them a CPU node gets.
        variant: Variant,
        /// The mbind mode (`MPOL_BIND`, `MPOL_PREFERRED`, `MPOL_INTERLEAVE`).
        mode: i32,
    },
}

/// The pages a static kind uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pages {
    /// The system's pages (huge where THP's mode makes them so).
    Base,
    /// Never huge pages (`MADV_NOHUGEPAGE`), as memkind's INTERLEAVE.
    NoHuge,
    /// Transparent huge pages: 2 MiB morsels marked `MADV_HUGEPAGE` and populated at once;
    /// unavailable where THP is off (it never falls back to small pages).
    Thp,
    /// Reserved 2 MiB hugetlbfs pages, populated at once; unavailable where none are reserved.
    Hugetlb,
    /// memkind's 1 GiB-page kinds, served as the [`Pages::Hugetlb`] ones. With `needs_gib`,
    /// `memkind_check_available` first wants reserved 1 GiB pages (memkind's HBW GBTLB kinds
    /// do; its MEMKIND_GBTLB does not).
    Gbtlb {
        /// Whether the C check of availability asks for reserved 1 GiB pages first.
        needs_gib: bool,
    },
}

impl Pages {
    /// Whether the kind draws on reserved hugetlbfs pages.
    pub fn hugetlb(self) -> bool {
        matches!(self, Pages::Hugetlb | Pages::Gbtlb { .. })
    }
}

/// What memkind's `memkind_get_capacity` answers for a static kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capacity {
    /// The memory of the nodes the kind uses for the calling CPU (`Kind::capacity`).
    Nodes,
    /// The bytes of the huge pages of this size reserved over the machine (0 when none).
    ReservedPages {
        /// The page size in KiB.
        kib: usize,
    },
    /// memkind answers -1: its PREFERRED kinds and the HBW huge-page kinds.
    Unknown,
}

/// One row of the static kind table.
#[derive(Clone, Copy, Debug)]
pub struct StaticKindInfo {
    /// memkind's name for the kind.
    pub name: &'static str,
    /// The name of the C library's exported `memkind_t` variable.
    pub symbol: &'static str,
    /// Where its memory goes.
    pub placement: NodeRule,
    /// The pages it uses.
    pub pages: Pages,
    /// What `memkind_get_capacity` answers for it.
    pub capacity: Capacity,
}

const BIND: i32 = sys::MPOL_BIND;
const PREFERRED: i32 = sys::MPOL_PREFERRED;
const INTERLEAVE: i32 = sys::MPOL_INTERLEAVE;

const fn family(family: Family, variant: Variant, mode: i32) -> NodeRule {
    NodeRule::Family { family, variant, mode }
}

macro_rules! define_static_kinds {
    ($($(#[$doc:meta])* $kind:ident = $symbol:ident {
        name: $name:literal, placement: $placement:expr, pages: $pages:expr, capacity: $capacity:expr $(,)?
    })*) => {
        /// memkind's static kinds, numbered as its partitions, then ours.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum StaticKind {
            $($(#[$doc])* $kind,)*
        }

        const ALL: &[StaticKind] = &[$(StaticKind::$kind),*];

        /// The static kind table, indexed by [`StaticKind`].
        pub static STATIC_KINDS: [StaticKindInfo; NUM_STATIC] = [$(StaticKindInfo {
            name: $name,
            symbol: stringify!($symbol),
            placement: $placement,
            pages: $pages,
            capacity: $capacity,
        }),*];
    };
}

crate::static_kind_table!(define_static_kinds);

/// How many static kinds there are; dynamic kinds take the kind table's entries after them.
pub const NUM_STATIC: usize = ALL.len();

impl StaticKind {
    /// Every static kind, in table order.
    pub fn all() -> impl Iterator<Item = StaticKind> {
        ALL.iter().copied()
    }

    /// The static kind at table index `i`.
    pub fn from_index(i: usize) -> Option<StaticKind> {
        ALL.get(i).copied()
    }

    /// Its row of the table.
    pub fn info(self) -> &'static StaticKindInfo {
        &STATIC_KINDS[self as usize]
    }

    /// memkind's name for it.
    pub fn name(self) -> &'static str {
        self.info().name
    }
}

fn classify_error(e: &ClassifyError) -> Error {
    match e.memkind_code() {
        MemkindCode::Environ => Error::Environ,
        MemkindCode::Unavailable => Error::Unavailable,
        MemkindCode::Runtime => Error::Runtime,
        MemkindCode::MemtypeNotAvailable => Error::MemtypeNotAvailable,
    }
}

/// The placements of a family's kind: per CPU node, as memkind chooses them.
fn family_placements(
    family: Family,
    variant: Variant,
    mode: i32,
    topology: &Topology,
    env: &Env,
) -> Result<Placements> {
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
    match k.info().placement {
        NodeRule::Any => Ok(Placements::None),
        NodeRule::Regular => Ok(Placements::All(Placement::new(sys::MPOL_BIND, topology.regular_nodes()))),
        NodeRule::InterleaveAll => {
            Ok(Placements::All(Placement::new(sys::MPOL_INTERLEAVE, topology.memory_nodes())))
        }
        NodeRule::Family { family, variant, mode } => family_placements(family, variant, mode, topology, env),
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
    let m = machine();
    let placements = placements(k, &m.topology, &m.env)?;
    let config = ProviderConfig { hog: m.env.hog_memory(), placements, ..Default::default() };
    match k.info().pages {
        Pages::Hugetlb | Pages::Gbtlb { .. } => {
            hugetlb_reserved()?;
            Ok(ProviderConfig { huge: true, eager: true, ..config })
        }
        Pages::NoHuge => Ok(ProviderConfig { no_huge: true, ..config }),
        Pages::Thp if !morsel::caps().thp_usable() => Err(Error::Hugetlb),
        Pages::Thp => Ok(ProviderConfig { huge: true, eager: true, ..config }),
        Pages::Base => Ok(config),
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

/// The spec of a static kind on this machine, or why it cannot be served.
pub fn spec(k: StaticKind) -> Result<KindSpec> {
    let config = spec_config(k)?;
    let source = if k.info().pages.hugetlb() { Source::hugetlb() } else { Source::anon() };
    Ok(KindSpec { source, config, dirty_decay: Some(std::time::Duration::from_secs(10)) })
}

/// The high-bandwidth nodes of this machine, as memkind finds them.
pub fn hbw_nodes() -> Result<Vec<u32>> {
    let m = machine();
    m.topology.hbw_nodes(&m.env).map_err(|e| classify_error(&e))
}
