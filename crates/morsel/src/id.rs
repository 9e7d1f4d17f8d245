//! `MorselId`: a self-contained 64-bit handle for a morsel.
//!
//! Layout, low bits first: order tag (3 bits, order + 1, so zero is never a valid id), meta flag
//! (1 bit), source index (12 bits), frame number (48 bits: the file offset, or the address for
//! anonymous sources, in 4 KiB pages). A process holding the source's fd can map the morsel from
//! the id alone.

use crate::order::{Order, PAGE_SHIFT};

const TAG_BITS: u32 = 3;
const META_BIT: u32 = 3;
const SOURCE_SHIFT: u32 = 4;
const SOURCE_BITS: u32 = 12;
const FRAME_SHIFT: u32 = 16;
/// How many sources an id can name.
pub const MAX_SOURCES: u16 = 1 << SOURCE_BITS;
/// The largest frame number an id can hold.
pub const MAX_FRAME: u64 = (1 << (64 - FRAME_SHIFT)) - 1;

/// A morsel's handle: order, source, frame and the meta flag in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MorselId(u64);

impl MorselId {
    /// Builds an id. `offset` must be a multiple of the order's size (natural alignment),
    /// `source` below [`MAX_SOURCES`]; anything else is refused.
    pub fn new(order: Order, source: u16, offset: u64, meta: bool) -> Option<MorselId> {
        if source >= MAX_SOURCES || offset % order.size() as u64 != 0 {
            return None;
        }
        let frame = offset >> PAGE_SHIFT;
        if frame > MAX_FRAME {
            return None;
        }
        Some(MorselId(
            (order as u64 + 1)
                | (meta as u64) << META_BIT
                | (source as u64) << SOURCE_SHIFT
                | frame << FRAME_SHIFT,
        ))
    }

    /// Decodes a raw word; `None` if it is not a valid id.
    pub fn from_raw(raw: u64) -> Option<MorselId> {
        let tag = raw & ((1 << TAG_BITS) - 1);
        let order = Order::from_index(tag.checked_sub(1)? as u8)?;
        let id = MorselId(raw);
        (id.offset() % order.size() as u64 == 0).then_some(id)
    }

    /// The raw word.
    pub fn raw(self) -> u64 {
        self.0
    }

    /// The morsel's order.
    pub fn order(self) -> Order {
        Order::from_index((self.0 & ((1 << TAG_BITS) - 1)) as u8 - 1).expect("valid by construction")
    }

    /// Whether the morsel holds metadata rather than user data.
    pub fn meta(self) -> bool {
        self.0 >> META_BIT & 1 == 1
    }

    /// The index of the source the morsel comes from.
    pub fn source(self) -> u16 {
        (self.0 >> SOURCE_SHIFT & ((1 << SOURCE_BITS) - 1)) as u16
    }

    /// The morsel's file offset (or address, for anonymous sources), in bytes.
    pub fn offset(self) -> u64 {
        (self.0 >> FRAME_SHIFT) << PAGE_SHIFT
    }
}
