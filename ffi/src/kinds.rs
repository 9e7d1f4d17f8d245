//! The exported kind variables, one per row of morselkind's static kind table
//! (`morselkind::static_kind_table!`), named by the row's C symbol. Each is a pointer-sized
//! object with a constant initializer: programs built as PIE copy them at load time, before
//! any constructor of ours runs.

use morselkind::{KindInner, StaticKind};

/// A `memkind_t` as an exported variable.
#[repr(transparent)]
pub struct KindVar(pub *const KindInner);

// SAFETY: the pointer is to an entry of the static kind table, which is itself Sync.
unsafe impl Sync for KindVar {}

macro_rules! kind_vars {
    ($($(#[$doc:meta])* $kind:ident = $symbol:ident { $($row:tt)* })*) => {
        $(
            $(#[$doc])*
            #[no_mangle]
            #[allow(non_upper_case_globals)]
            pub static $symbol: KindVar = KindVar(StaticKind::$kind.kind().as_ptr());
        )*
    };
}

morselkind::static_kind_table!(kind_vars);
