//! jemalloc's small size classes, by table: the usable size a request of a given size gets,
//! without asking jemalloc (tiering counts bytes on every allocation).

use tikv_jemalloc_sys as je;

/// Sizes up to this are answered from the table.
pub const MAX_TABLED: usize = 8192;
const MAX_CACHED: usize = MAX_TABLED;
/// How many small classes the table knows.
pub(crate) const NCLASSES: usize = 33;

/// The usable size jemalloc gives a request of `size` bytes at natural alignment.
#[inline]
pub fn size_class(size: usize) -> usize {
    if size == 0 {
        return 0;
    }
    if size <= MAX_TABLED {
        return class_of(size).1;
    }
    // SAFETY: nallocx only computes a size.
    unsafe { je::nallocx(size, 0) }
}

/// The size class index and class size of a small request (`size` in 1..=MAX_CACHED), equal
/// to jemalloc's small size classes (checked against `nallocx` in the tests). Two table loads.
#[inline(always)]
pub fn class_of(size: usize) -> (usize, usize) {
    let i = CLASS_OF_8[(size + 7) >> 3] as usize;
    (i, CLASS_SIZE[i])
}

/// The class of a size computed arithmetically: 8, 16..128 by 16, then four per doubling.
const fn class_of_slow(size: usize) -> usize {
    if size <= 8 {
        return 0;
    }
    if size <= 128 {
        return (size + 15) >> 4;
    }
    let lg = usize::BITS - 1 - (size - 1).leading_zeros(); // floor(log2(size - 1)) ≥ 7
    let k = (size - (1 << lg) + (1 << (lg - 2)) - 1) >> (lg - 2); // 1..=4
    8 + (lg as usize - 7) * 4 + k
}

pub(crate) const fn class_size_slow(i: usize) -> usize {
    if i == 0 {
        return 8;
    }
    if i <= 8 {
        return i << 4;
    }
    let lg = 7 + (i - 9) / 4;
    let k = (i - 9) % 4 + 1;
    (1 << lg) + k * (1 << (lg - 2))
}

/// Class index by size in 8-byte steps (every class above 8 is a multiple of 16, so steps of 8
/// never straddle a class boundary).
pub(crate) static CLASS_OF_8: [u8; MAX_CACHED / 8 + 1] = {
    let mut t = [0u8; MAX_CACHED / 8 + 1];
    let mut i = 1;
    while i < t.len() {
        t[i] = class_of_slow(i * 8) as u8;
        i += 1;
    }
    t
};

pub(crate) static CLASS_SIZE: [usize; NCLASSES] = {
    let mut t = [0usize; NCLASSES];
    let mut i = 0;
    while i < NCLASSES {
        t[i] = class_size_slow(i);
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_jemalloc() {
        for size in 1..=MAX_TABLED {
            // SAFETY: nallocx only computes a size.
            assert_eq!(size_class(size), unsafe { je::nallocx(size, 0) }, "size {size}");
            assert!(class_of(size).0 < NCLASSES);
        }
    }
}
