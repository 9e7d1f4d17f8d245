// Gives the shared library memkind's style of soname, so programs record libmorselkind.so.0.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmorselkind.so.0");
}
