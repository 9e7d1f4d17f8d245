// libmorselcache.so: soname libmorselcache.so.0 (its link beside it in the build tree), and
// every symbol under libvmemcache's version node LIBVMEMCACHE_1.0, so programs linked against
// libvmemcache.so.0 bind to ours unchanged.
include!("../../build-support/soname_link.rs");

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=libvmemcache.map");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../build-support/soname_link.rs");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/libvmemcache.map");
    soname_and_link("libmorselcache.so.0", "libmorselcache.so");
}
