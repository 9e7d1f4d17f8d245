//! What this machine's kernel can do for morsels, probed once and remembered.
//!
//! Code asks here before it relies on a feature (transparent huge pages, reserved hugetlb pages,
//! `MADV_POPULATE_WRITE`, memfd), so a missing feature is a clean fallback, not a failure.

use std::sync::OnceLock;

use crate::sys;

/// The transparent huge page mode from /sys/kernel/mm/transparent_hugepage/enabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThpMode {
    /// Every suitable anonymous mapping gets huge pages.
    Always,
    /// Only ranges marked with `MADV_HUGEPAGE`.
    Madvise,
    /// Never.
    Never,
    /// The kernel has no THP (or the file could not be read).
    Unsupported,
}

/// The probed capabilities.
#[derive(Clone, Copy, Debug)]
pub struct Capabilities {
    /// Transparent huge pages.
    pub thp: ThpMode,
    /// 2 MiB hugetlbfs pages reserved in the pool (`vm.nr_hugepages`).
    pub hugetlb_2m_total: u64,
    /// Of those, how many are free.
    pub hugetlb_2m_free: u64,
    /// `MADV_POPULATE_WRITE` is accepted.
    pub populate_write: bool,
    /// `memfd_create` works.
    pub memfd: bool,
}

impl Capabilities {
    /// Whether THP can give huge pages to a range we mark with `MADV_HUGEPAGE`.
    pub fn thp_usable(&self) -> bool {
        matches!(self.thp, ThpMode::Always | ThpMode::Madvise)
    }
}

fn read_u64(path: &str) -> u64 {
    std::fs::read_to_string(path).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

fn probe_thp() -> ThpMode {
    match std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled") {
        Ok(s) if s.contains("[always]") => ThpMode::Always,
        Ok(s) if s.contains("[madvise]") => ThpMode::Madvise,
        Ok(s) if s.contains("[never]") => ThpMode::Never,
        _ => ThpMode::Unsupported,
    }
}

fn probe_populate_write() -> bool {
    let Ok(addr) = sys::reserve(crate::PAGE_SIZE, crate::PAGE_SIZE) else { return false };
    // SAFETY: `addr` is the page reserved just above, ours alone until unmapped below.
    unsafe {
        let ok = sys::map_anon_fixed(addr, crate::PAGE_SIZE).is_ok()
            && sys::madvise(addr, crate::PAGE_SIZE, sys::MADV_POPULATE_WRITE).is_ok();
        let _ = sys::unmap(addr, crate::PAGE_SIZE);
        ok
    }
}

/// Probes everything (fresh, not cached): hugetlb reservations change at run time.
pub fn probe() -> Capabilities {
    let dir = "/sys/kernel/mm/hugepages/hugepages-2048kB";
    Capabilities {
        thp: probe_thp(),
        hugetlb_2m_total: read_u64(&format!("{dir}/nr_hugepages")),
        hugetlb_2m_free: read_u64(&format!("{dir}/free_hugepages")),
        populate_write: probe_populate_write(),
        memfd: sys::memfd_create(c"morsel-probe").is_ok(),
    }
}

/// The capabilities, probed on first use and then remembered for the life of the process.
pub fn caps() -> &'static Capabilities {
    static CAPS: OnceLock<Capabilities> = OnceLock::new();
    CAPS.get_or_init(probe)
}
