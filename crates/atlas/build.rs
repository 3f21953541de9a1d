//! Embeds every indicator definition of `indicators/` into the binary (sorted by file name).
use std::io::Write;

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("indicators");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("crates/atlas/indicators")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let out =
        std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("indicators.rs");
    let mut f = std::fs::File::create(out).expect("writable");
    writeln!(f, "/// Every embedded indicator file: (file name, text).").unwrap();
    writeln!(f, "pub const EMBEDDED: &[(&str, &str)] = &[").unwrap();
    for p in files {
        println!("cargo:rerun-if-changed={}", p.display());
        writeln!(
            f,
            "    ({:?}, include_str!({:?})),",
            p.file_name().unwrap().to_string_lossy(),
            p.display().to_string()
        )
        .unwrap();
    }
    writeln!(f, "];").unwrap();
}
