//! Orders: the four sizes of a page-table subtree on x86-64 (and arm64 with 4 KiB pages).
//!
//! A morsel of order N covers 4 KiB × 512^N bytes and starts at a multiple of that size,
//! so one PMD or PUD entry can map it whole and one shift finds it from any pointer inside.

/// log2 of the base page size.
pub const PAGE_SHIFT: u32 = 12;
/// The base page size.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
/// log2 of a 2 MiB granule: the unit of population and purge bookkeeping.
pub const GRANULE_SHIFT: u32 = 21;
/// One 2 MiB granule.
pub const GRANULE_SIZE: usize = 1 << GRANULE_SHIFT;

/// The order of a morsel: how many page-table levels its subtree spans below the leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Order {
    /// 4 KiB: one page.
    Page = 0,
    /// 2 MiB: one PTE table, mapped whole by one PMD entry.
    Pmd = 1,
    /// 1 GiB: one PMD table, mapped whole by one PUD entry.
    Pud = 2,
    /// 512 GiB: one PUD table.
    P4d = 3,
}

impl Order {
    /// Every order, smallest first.
    pub const ALL: [Order; 4] = [Order::Page, Order::Pmd, Order::Pud, Order::P4d];

    /// log2 of the morsel size.
    pub const fn shift(self) -> u32 {
        PAGE_SHIFT + 9 * self as u32
    }

    /// The morsel size in bytes.
    pub const fn size(self) -> usize {
        1usize << self.shift()
    }

    /// The order from its numeric value 0..=3.
    pub const fn from_index(n: u8) -> Option<Order> {
        match n {
            0 => Some(Order::Page),
            1 => Some(Order::Pmd),
            2 => Some(Order::Pud),
            3 => Some(Order::P4d),
            _ => None,
        }
    }

    /// The smallest order whose size is at least `len`, if any.
    pub fn fitting(len: usize) -> Option<Order> {
        Order::ALL.into_iter().find(|o| o.size() >= len)
    }

    /// Rounds `n` up to a multiple of this order's size (saturating at the top of usize).
    pub const fn align_up(self, n: usize) -> Option<usize> {
        match n.checked_add(self.size() - 1) {
            Some(v) => Some(v & !(self.size() - 1)),
            None => None,
        }
    }
}

/// Rounds `n` up to a multiple of `align`, a power of two; `None` on overflow.
pub const fn align_up(n: usize, align: usize) -> Option<usize> {
    match n.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

/// Cuts `[start, end)` into the fewest blocks whose alignment equals their size,
/// each at most `max` (a power of two), and calls `f(addr, order_shift)` for each.
/// This is how the edges of a caller's region are carved (snmalloc's range_to_pow_2_blocks).
pub fn pow2_blocks(mut start: usize, end: usize, max: usize, mut f: impl FnMut(usize, u32)) {
    while start < end {
        let align = if start == 0 { max } else { 1usize << start.trailing_zeros() };
        let mut size = align.min(max);
        while size > end - start {
            size >>= 1;
        }
        f(start, size.trailing_zeros());
        start += size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_page_table_subtrees() {
        assert_eq!(Order::Page.size(), 4096);
        assert_eq!(Order::Pmd.size(), 2 << 20);
        assert_eq!(Order::Pud.size(), 1 << 30);
        assert_eq!(Order::P4d.size(), 512 << 30);
        assert_eq!(Order::fitting(3 << 20), Some(Order::Pud));
        assert_eq!(Order::fitting(usize::MAX), None);
    }

    #[test]
    fn pow2_blocks_cover_exactly_with_natural_alignment() {
        let (start, end) = (0x1234_5000usize, 0x1a00_0000usize);
        let mut at = start;
        pow2_blocks(start, end, 1 << 21, |addr, shift| {
            assert_eq!(addr, at);
            assert_eq!(addr % (1 << shift), 0);
            at += 1 << shift;
        });
        assert_eq!(at, end);
    }
}
