//! Test support shared by the crates' integration tests: a real S3 protocol server on
//! loopback with fault injection ([`S3Server`]), query results as text ([`format_rows`]), and
//! bucket-shaped files ([`write_file`], [`copy_tree`]).

mod server;

use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

pub use server::{Fault, Request, S3Server, Target, ACCESS_KEY, REGION, SECRET_KEY};

/// Writes `content` to `key` (a `/`-separated path) below `root`, creating folders.
pub fn write_file(root: &std::path::Path, key: &str, content: &str) {
    let path = root.join(key);
    std::fs::create_dir_all(path.parent().expect("a key names a file")).expect("folders");
    std::fs::write(path, content).expect("file written");
}

/// Copies the folder `from` into `to` (created), recursively: a bucket or a warehouse.
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("folder");
    for entry in std::fs::read_dir(from).expect("folder readable") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("file copied");
        }
    }
}

/// Every row of `batches` as its values joined by `|`, NULL written as `NULL`.
pub fn format_rows(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("displayable column"))
            .collect();
        for row in 0..batch.num_rows() {
            let values: Vec<String> = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            out.push(values.join("|"));
        }
    }
    out
}
