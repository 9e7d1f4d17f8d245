// Gives the shared library memkind's style of soname, so programs record libmorselkind.so.0,
// and puts the libmorselkind.so.0 link beside it in the build tree.
include!("../build-support/soname_link.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../build-support/soname_link.rs");
    soname_and_link("libmorselkind.so.0", "libmorselkind.so");
}
