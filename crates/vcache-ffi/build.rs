// libmorselcache.so: soname libmorselcache.so.0, and every symbol under libvmemcache's version
// node LIBVMEMCACHE_1.0, so programs linked against libvmemcache.so.0 bind to ours unchanged.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=libvmemcache.map");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmorselcache.so.0");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/libvmemcache.map");
}
