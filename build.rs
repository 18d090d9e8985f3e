//! Embeds sample-feeds/ (the default source) and queries/ (the reports) into the binary.

use std::path::{Path, PathBuf};

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("sample-feeds is readable")
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "csv") {
            let key = path
                .strip_prefix(root)
                .unwrap()
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((key, path));
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-feeds");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    if root.is_dir() {
        collect(&root, &root, &mut files);
    }
    for (_, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let body: String = files
        .iter()
        .map(|(key, path)| {
            format!(
                "    ({key:?}, include_bytes!({:?})),\n",
                path.display().to_string()
            )
        })
        .collect();
    let code = format!("/// The bundled sample bucket: (key, content).\npub const SAMPLE_FEEDS: &[(&str, &[u8])] = &[\n{body}];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out.join("sample_feeds.rs"), code).unwrap();
    std::fs::write(out.join("reports.rs"), reports()).unwrap();
}

/// `REPORTS`: every queries/*.sql as (file name, text).
fn reports() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "sql"));
    files.sort();
    let body: String = files
        .iter()
        .map(|path| {
            println!("cargo:rerun-if-changed={}", path.display());
            let name = path.file_name().unwrap().to_string_lossy();
            format!(
                "    ({name:?}, include_str!({:?})),\n",
                path.display().to_string()
            )
        })
        .collect();
    format!("/// The reports of queries/: (file name, SQL).\npub const REPORTS: &[(&str, &str)] = &[\n{body}];\n")
}
