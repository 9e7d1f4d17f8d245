//! The one thread-local on every allocation's path: the calling thread's caches (see `cache`),
//! a word that is null (none yet), a sentinel (torn down) or a pointer.
//!
//! On x86_64 Linux it is a `.tbss` word of our own, so that it can be reached two ways:
//! - [`TlsDescriptor`] (and `set`) through a TLS descriptor (`@tlsdesc`): valid whether the library is loaded
//!   with the program or `dlopen`ed later; for a library loaded with the program the descriptor
//!   resolves to a function that returns a constant (one call and one load);
//! - [`TlsInitialExec`] through its static offset from the thread pointer (`@gottpoff`): one
//!   load, no call, as jemalloc and glibc reach their own thread-locals. A library that uses it
//!   is marked `DF_STATIC_TLS` by the linker and can no longer be `dlopen`ed where static TLS
//!   has no room for it, so only the interposer (`libmorseltier.so`, which is always loaded
//!   with the program) calls it; `libmorselkind.so` never does.
//!
//! Both read the same word. The fast paths take the way as a type parameter ([`ThreadWord`]),
//! so the initial-exec load is compiled only into the interposer's instances of them. Rust's
//! `thread_local!` cannot be named from assembly, and stable Rust has no per-variable TLS
//! model, hence the assembly. Elsewhere, a `thread_local!`.
//!
//! (Measured: a DRAM-only malloc/free pair under the interposer took 9–10.7 ns through the
//! descriptor and 6.3–7 through the initial-exec load, plain jemalloc 6.6; callgrind 170 and
//! 154 instructions per pair of the pair benchmark, jemalloc 148.)

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod imp {
    // The word: 8 bytes of zero-initialised thread-local storage, global only inside the
    // library (hidden), so that the interposer's crate can name it.
    std::arch::global_asm!(
        ".pushsection .tbss.morselkind_thread_caches,\"awT\",@nobits",
        ".p2align 3",
        ".globl morselkind_thread_caches",
        ".hidden morselkind_thread_caches",
        ".type morselkind_thread_caches,@object",
        ".size morselkind_thread_caches,8",
        "morselkind_thread_caches:",
        ".zero 8",
        ".popsection",
    );

    /// The calling thread's word, through its TLS descriptor.
    #[inline(always)]
    pub fn get() -> usize {
        let v: usize;
        // SAFETY: the descriptor call is the TLS ABI's (gnu2 dialect): it returns the word's
        // offset from the thread pointer in rax and preserves every other register (LLVM makes
        // the same assumption for its own TLS descriptors, which this crate's thread-locals use
        // too: .cargo/config.toml). It may use the stack, hence no `nostack`. The load reads
        // this thread's word, which only this thread writes.
        unsafe {
            std::arch::asm!(
                "leaq morselkind_thread_caches@tlsdesc(%rip), %rax",
                "call *morselkind_thread_caches@tlscall(%rax)",
                "movq %fs:(%rax), {v}",
                v = lateout(reg) v,
                out("rax") _,
                options(att_syntax, readonly),
            );
        }
        v
    }

    /// Sets the calling thread's word, through its TLS descriptor.
    #[inline]
    pub fn set(v: usize) {
        // SAFETY: as in `get`; the store writes this thread's own word.
        unsafe {
            std::arch::asm!(
                "leaq morselkind_thread_caches@tlsdesc(%rip), %rax",
                "call *morselkind_thread_caches@tlscall(%rax)",
                "movq {v}, %fs:(%rax)",
                v = in(reg) v,
                out("rax") _,
                options(att_syntax),
            );
        }
    }

    /// The calling thread's word, through its static offset (initial-exec). Only for a library
    /// that is loaded with the program (see the module's comment).
    #[inline(always)]
    pub fn get_initial_exec() -> usize {
        let v: usize;
        // SAFETY: the GOT entry holds the word's offset from the thread pointer, which the
        // dynamic linker fills in at load time (the library is then in static TLS); the load
        // reads this thread's word, which only this thread writes.
        unsafe {
            std::arch::asm!(
                "movq morselkind_thread_caches@gottpoff(%rip), {v}",
                "movq %fs:({v}), {v}",
                v = out(reg) v,
                options(att_syntax, nostack, readonly, preserves_flags),
            );
        }
        v
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
mod imp {
    use std::cell::Cell;

    thread_local! {
        static WORD: Cell<usize> = const { Cell::new(0) };
    }

    /// The calling thread's word.
    #[inline(always)]
    pub fn get() -> usize {
        WORD.with(Cell::get)
    }

    /// Sets the calling thread's word.
    #[inline]
    pub fn set(v: usize) {
        WORD.with(|w| w.set(v))
    }

    /// The same as [`get`] here.
    #[inline(always)]
    pub fn get_initial_exec() -> usize {
        get()
    }
}

pub(crate) use imp::set;

/// How a fast path reaches the calling thread's word.
pub trait ThreadWord {
    /// The calling thread's word.
    fn get() -> usize;
}

/// Through the TLS descriptor: valid in any library, loaded with the program or `dlopen`ed.
pub enum TlsDescriptor {}

impl ThreadWord for TlsDescriptor {
    #[inline(always)]
    fn get() -> usize {
        imp::get()
    }
}

/// Initial-exec: one load, for a library that is always loaded with the program (the
/// interposer). Using it marks the library `DF_STATIC_TLS`.
pub enum TlsInitialExec {}

impl ThreadWord for TlsInitialExec {
    #[inline(always)]
    fn get() -> usize {
        imp::get_initial_exec()
    }
}
