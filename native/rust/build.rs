//! Link settings for an addon whose `napi_*` symbols come from the host `node` process.
//!
//! Linux (ELF) leaves a shared library's undefined symbols to the dynamic loader by default.
//! macOS's linker refuses them unless told to look them up at load time (what the napi-build
//! crate does for napi-rs projects; we have no crates). Windows would need an import library
//! for node.exe and is not supported.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-undefined,dynamic_lookup");
    }
}
