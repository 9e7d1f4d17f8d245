//! Natural alignment: morsels land at addresses (and file offsets) aligned to their order and
//! to the requested alignment, and `MorselId` carries every field through its raw word.

mod common;

use morsel::{Backing, Morsel, MorselId, Order, Source, MAX_FRAME, MAX_SOURCES, PAGE_SHIFT};
use proptest::prelude::*;

const GIB_SHIFT: u32 = 30;

/// (order, span, alignment): Page/Pmd spans of 1..=4 order sizes, Pud spans of one; alignment a
/// power of two from the order's size up to 1 GiB.
fn layout() -> impl Strategy<Value = (Order, usize, usize)> {
    prop_oneof![Just(Order::Page), Just(Order::Pmd), Just(Order::Pud)]
        .prop_flat_map(|order| {
            let max_mult: usize = if order == Order::Pud { 1 } else { 4 };
            (Just(order), 1..=max_mult, order.shift()..=GIB_SHIFT)
        })
        .prop_map(|(order, mult, shift)| (order, mult * order.size(), 1usize << shift))
}

fn sources() -> Vec<Source> {
    vec![
        Source::anon(),
        Source::memfd("morsel-alignment").expect("memfd_create"),
        Source::tmpfile(&std::env::temp_dir()).expect("tmpfile in temp_dir"),
    ]
}

/// Checks one morsel's placement and id; writes its first and last byte to prove it is mapped.
fn check_placement(
    src: &Source,
    m: &Morsel,
    order: Order,
    len: usize,
    align: usize,
) -> Result<(), TestCaseError> {
    let what = format!("{:?} {order:?} len {len:#x} align {align:#x}: {m:?}", src.backing());
    prop_assert_eq!(m.len(), len, "{}", what);
    prop_assert_eq!(m.order(), order, "{}", what);
    prop_assert_eq!(m.base() % align, 0, "{}", what);
    prop_assert_eq!(m.base() % order.size(), 0, "{}", what);
    if src.backing() == Backing::Anon {
        prop_assert_eq!(m.offset(), 0, "{}", what);
    } else {
        prop_assert_eq!(m.offset() % order.size() as u64, 0, "{}", what);
    }
    let id = m.id();
    prop_assert_eq!(id.order(), order);
    prop_assert_eq!(id.source(), src.index());
    prop_assert!(!id.meta());
    let expect = if src.backing() == Backing::Anon { m.base() as u64 } else { m.offset() };
    prop_assert_eq!(id.offset(), expect);
    prop_assert_eq!(MorselId::from_raw(id.raw()), Some(id));

    common::fill(m, 0, 1, 0xa1);
    common::fill(m, len - 1, 1, 0xb2);
    prop_assert!(common::all_equal(m, 0, 1, 0xa1));
    prop_assert!(common::all_equal(m, len - 1, 1, 0xb2));
    Ok(())
}

proptest! {
    /// Two morsels per source (so the second file frame is placed after the first, whatever
    /// their orders): both aligned, their file frames disjoint.
    #[test]
    fn morsels_are_naturally_aligned(a in layout(), b in layout()) {
        for src in sources() {
            let ma = Morsel::create(&src, a.0, a.1, a.2).expect("create first");
            let mb = Morsel::create(&src, b.0, b.1, b.2).expect("create second");
            check_placement(&src, &ma, a.0, a.1, a.2)?;
            check_placement(&src, &mb, b.0, b.1, b.2)?;
            prop_assert!(ma.base() + ma.len() <= mb.base() || mb.base() + mb.len() <= ma.base());
            if src.backing() != Backing::Anon {
                let (ea, eb) = (ma.offset() + a.1 as u64, mb.offset() + b.1 as u64);
                prop_assert!(ea <= mb.offset() || eb <= ma.offset(), "frames overlap: {:?} {:?}", ma, mb);
                // Writes through one morsel do not show through the other.
                common::fill(&ma, 0, 1, 0x11);
                common::fill(&mb, 0, 1, 0x22);
                prop_assert!(common::all_equal(&ma, 0, 1, 0x11));
            }
            // SAFETY: no pointer into either morsel is used after this.
            unsafe {
                mb.destroy(&src).expect("destroy second");
                ma.destroy(&src).expect("destroy first");
            }
        }
    }

    /// Every field survives `new` → `raw` → `from_raw`, and the raw word is never zero.
    #[test]
    fn id_round_trips(
        order_index in 0u8..4,
        source in 0..MAX_SOURCES,
        frame in 0..=MAX_FRAME,
        meta in any::<bool>(),
    ) {
        let order = Order::from_index(order_index).unwrap();
        let pages_per_order = (order.size() >> PAGE_SHIFT) as u64;
        let offset = (frame & !(pages_per_order - 1)) << PAGE_SHIFT;
        let id = MorselId::new(order, source, offset, meta).expect("aligned offset accepted");
        prop_assert_ne!(id.raw(), 0);
        prop_assert_eq!(id.order(), order);
        prop_assert_eq!(id.source(), source);
        prop_assert_eq!(id.offset(), offset);
        prop_assert_eq!(id.meta(), meta);
        let back = MorselId::from_raw(id.raw()).expect("valid raw decodes");
        prop_assert_eq!(back, id);
        prop_assert_eq!(
            (back.order(), back.source(), back.offset(), back.meta()),
            (order, source, offset, meta)
        );
    }

    /// Offsets that are not a multiple of the order's size are refused.
    #[test]
    fn misaligned_offsets_are_refused(
        order_index in 0u8..4,
        source in 0..MAX_SOURCES,
        base in 0u64..(1 << 40),
        delta_seed in any::<u64>(),
        meta in any::<bool>(),
    ) {
        let order = Order::from_index(order_index).unwrap();
        let size = order.size() as u64;
        let delta = 1 + delta_seed % (size - 1);
        let offset = base.wrapping_mul(size) % (1 << 59) + delta;
        prop_assert_eq!(MorselId::new(order, source, offset, meta), None);
    }

    /// Sources beyond the 12-bit field and frames beyond the 48-bit field are refused.
    #[test]
    fn out_of_range_fields_are_refused(
        order_index in 0u8..4,
        big_source in MAX_SOURCES..=u16::MAX,
        source in 0..MAX_SOURCES,
        extra in 0u64..(1 << 3),
    ) {
        let order = Order::from_index(order_index).unwrap();
        prop_assert_eq!(MorselId::new(order, big_source, 0, false), None);
        // The first offset past the frame field, rounded up to the order: aligned but too big.
        let too_far = ((MAX_FRAME + 1) << PAGE_SHIFT) + extra * order.size() as u64;
        prop_assert_eq!(MorselId::new(order, source, too_far, false), None);
    }

    /// Any raw word: decodes iff its tag names an order and its offset is aligned to it, and
    /// then re-encodes to the same word.
    #[test]
    fn from_raw_accepts_exactly_the_valid_words(raw in any::<u64>()) {
        let tag = raw & 7;
        let offset = (raw >> 16) << PAGE_SHIFT;
        let valid = (1..=4).contains(&tag)
            && offset % Order::from_index(tag as u8 - 1).unwrap().size() as u64 == 0;
        match MorselId::from_raw(raw) {
            Some(id) => {
                prop_assert!(valid, "{:#x} decoded but is invalid", raw);
                prop_assert_eq!(id.raw(), raw);
                prop_assert_eq!(MorselId::new(id.order(), id.source(), id.offset(), id.meta()), Some(id));
            }
            None => prop_assert!(!valid, "{:#x} refused but is valid", raw),
        }
        // Clearing the tag always makes the word invalid, whatever the other bits.
        prop_assert_eq!(MorselId::from_raw(raw & !7), None);
    }
}

#[test]
fn zero_is_never_a_valid_id() {
    assert_eq!(MorselId::from_raw(0), None);
    for order in Order::ALL {
        assert_ne!(MorselId::new(order, 0, 0, false).unwrap().raw(), 0);
    }
    // Tags 5..=7 name no order.
    for tag in 5..8u64 {
        assert_eq!(MorselId::from_raw(tag), None);
    }
}

#[test]
fn create_refuses_bad_layouts() {
    let src = Source::anon();
    let pmd = Order::Pmd.size();
    let einval = Err(morsel::Errno(libc::EINVAL));
    assert_eq!(Morsel::create(&src, Order::Pmd, 0, pmd).map(|_| ()), einval);
    assert_eq!(Morsel::create(&src, Order::Pmd, pmd + 4096, pmd).map(|_| ()), einval);
    assert_eq!(Morsel::create(&src, Order::Pmd, pmd, pmd / 2).map(|_| ()), einval);
    assert_eq!(Morsel::create(&src, Order::Pmd, pmd, 3 * pmd).map(|_| ()), einval);
}

/// One 512 GiB morsel per source: address space and a sparse file frame only.
#[test]
fn p4d_morsel_is_naturally_aligned() {
    let order = Order::P4d;
    for src in sources() {
        let m = Morsel::create(&src, order, order.size(), order.size())
            .unwrap_or_else(|e| panic!("{:?} P4d create: {e:?}", src.backing()));
        assert_eq!(m.base() % order.size(), 0, "{m:?}");
        assert_eq!(m.offset() % order.size() as u64, 0, "{m:?}");
        assert_eq!(MorselId::from_raw(m.id().raw()), Some(m.id()));
        assert_eq!(m.id().order(), Order::P4d);
        // Both ends are usable memory.
        common::fill(&m, 0, 1, 7);
        common::fill(&m, m.len() - 1, 1, 9);
        assert!(common::all_equal(&m, 0, 1, 7) && common::all_equal(&m, m.len() - 1, 1, 9));
        // SAFETY: no pointer into the morsel is used after this.
        unsafe { m.destroy(&src) }.expect("destroy");
    }
}
