//! The exported kind variables. Each is a pointer-sized object with a constant initializer:
//! programs built as PIE copy them at load time, before any constructor of ours runs.

use morselkind::{KindInner, StaticKind};

/// A `memkind_t` as an exported variable.
#[repr(transparent)]
pub struct KindVar(pub *const KindInner);

// SAFETY: the pointer is to an entry of the static kind table, which is itself Sync.
unsafe impl Sync for KindVar {}

macro_rules! kind_vars {
    ($($name:ident = $kind:ident),* $(,)?) => {
        $(
            #[no_mangle]
            #[allow(non_upper_case_globals)]
            pub static $name: KindVar = KindVar(StaticKind::$kind.kind().as_ptr());
        )*
    };
}

kind_vars! {
    MEMKIND_DEFAULT = Default,
    MEMKIND_HBW = Hbw,
    MEMKIND_HBW_HUGETLB = HbwHugetlb,
    MEMKIND_HBW_PREFERRED = HbwPreferred,
    MEMKIND_HBW_PREFERRED_HUGETLB = HbwPreferredHugetlb,
    MEMKIND_HUGETLB = Hugetlb,
    MEMKIND_HBW_GBTLB = HbwGbtlb,
    MEMKIND_HBW_PREFERRED_GBTLB = HbwPreferredGbtlb,
    MEMKIND_GBTLB = Gbtlb,
    MEMKIND_HBW_INTERLEAVE = HbwInterleave,
    MEMKIND_INTERLEAVE = Interleave,
    MEMKIND_REGULAR = Regular,
    MEMKIND_HBW_ALL = HbwAll,
    MEMKIND_HBW_ALL_HUGETLB = HbwAllHugetlb,
    MEMKIND_DAX_KMEM = DaxKmem,
    MEMKIND_DAX_KMEM_ALL = DaxKmemAll,
    MEMKIND_DAX_KMEM_PREFERRED = DaxKmemPreferred,
    MEMKIND_DAX_KMEM_INTERLEAVE = DaxKmemInterleave,
    MEMKIND_HIGHEST_CAPACITY = HighestCapacity,
    MEMKIND_HIGHEST_CAPACITY_PREFERRED = HighestCapacityPreferred,
    MEMKIND_HIGHEST_CAPACITY_LOCAL = HighestCapacityLocal,
    MEMKIND_HIGHEST_CAPACITY_LOCAL_PREFERRED = HighestCapacityLocalPreferred,
    MEMKIND_LOWEST_LATENCY_LOCAL = LowestLatencyLocal,
    MEMKIND_LOWEST_LATENCY_LOCAL_PREFERRED = LowestLatencyLocalPreferred,
    MEMKIND_HIGHEST_BANDWIDTH_LOCAL = HighestBandwidthLocal,
    MEMKIND_HIGHEST_BANDWIDTH_LOCAL_PREFERRED = HighestBandwidthLocalPreferred,
    MORSELKIND_HUGE = Huge,
}
